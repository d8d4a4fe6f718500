// Package ident normalises the identifiers that private set intersection
// compares, so that two partners holding the same person under different
// spellings produce the same bytes, and so that malformed identifiers are
// rejected with their position rather than silently entering a set.
//
// # Mobile numbers (KindMobile)
//
// Mainland China mobile numbers, normalised to the 13 ASCII digits
// "86" + the 11-digit national number, e.g. "+86 138-0013-8000" becomes
// "8613800138000". Spaces, hyphens, dots and parentheses are separators
// and are dropped; full-width digits and the full-width plus sign (as typed
// with a Chinese input method) are read as their ASCII forms. A country
// code is optional on input ("+86", "0086" or a bare "86" before eleven
// digits) and always explicit on output. The national number must have 11
// digits, start with 1 and have 3–9 as its second digit (the mobile
// ranges); any other country code, landline numbers, extensions and
// letters are errors.
//
// # Resident identity card numbers (KindIDCard)
//
// GB 11643-1999 citizen identity numbers, normalised to 18 characters:
// 17 digits and a check character that is a digit or an upper-case "X"
// (a lower-case "x" is accepted and upper-cased). The first two digits
// must be a province-level code in use (11–15, 21–23, 31–37, 41–46, 50–54,
// 61–65, and 71, 81, 82, 83 for the numbers of residence permits), digits
// 7–14 a valid calendar date from 1880-01-01 to 2099-12-31, and the check
// character the ISO 7064 MOD 11-2 check of the first 17 digits. Legacy
// 15-digit numbers (issued before 1999, all to people born 1900–1999) are
// converted as GB 11643-1999 prescribes: "19" is inserted before the
// two-digit year and the check character appended, so the result equals
// the 18-digit number the same person holds today.
//
// # Domain separation
//
// Domain names the federation, the query and the identifier kind; Prefix
// encodes them, length-prefixed, in front of every identifier hashed to the
// group. The same phone number therefore hashes to unrelated elements in
// two queries, two federations, or as a phone number and as (say) an
// identity number.
package ident
