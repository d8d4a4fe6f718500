package ident

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind is the kind of identifier a query compares.
type Kind uint8

const (
	// KindMobile is a mainland China mobile number.
	KindMobile Kind = 1
	// KindIDCard is a GB 11643-1999 resident identity card number.
	KindIDCard Kind = 2
)

// MaxRawLength bounds an identifier before normalisation, so that a hostile
// line cannot make normalisation allocate without bound.
const MaxRawLength = 64

// Errors reported by Normalize, usable with errors.Is.
var (
	ErrUnknownKind = errors.New("unknown identifier kind")
	ErrMalformed   = errors.New("malformed identifier")
)

// ParseKind returns the Kind named "mobile" or "idcard".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "mobile":
		return KindMobile, nil
	case "idcard":
		return KindIDCard, nil
	}
	return 0, fmt.Errorf("%w %q (want mobile or idcard)", ErrUnknownKind, s)
}

// String returns the kind's name as ParseKind accepts it.
func (k Kind) String() string {
	switch k {
	case KindMobile:
		return "mobile"
	case KindIDCard:
		return "idcard"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == KindMobile || k == KindIDCard }

// Normalize returns the normalised form of raw as an identifier of kind k.
// Errors wrap ErrMalformed (or ErrUnknownKind) and say what is wrong,
// without repeating the identifier itself.
func Normalize(k Kind, raw string) (string, error) {
	switch k {
	case KindMobile:
		return NormalizeMobile(raw)
	case KindIDCard:
		return NormalizeIDCard(raw)
	}
	return "", fmt.Errorf("%w %d", ErrUnknownKind, k)
}

func malformed(kind, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, kind, fmt.Sprintf(format, args...))
}

// fold maps full-width digits, letters and plus sign to ASCII and returns
// the result with separators removed. It fails on any other non-ASCII rune.
func fold(kind, raw string, separators string) (string, error) {
	if len(raw) > MaxRawLength {
		return "", malformed(kind, "longer than %d bytes", MaxRawLength)
	}
	if !utf8.ValidString(raw) {
		return "", malformed(kind, "not valid UTF-8")
	}
	var b strings.Builder
	for _, r := range raw {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E: // full-width ASCII block
			r -= 0xFF01 - '!'
		case r == 0x3000: // ideographic space
			r = ' '
		}
		if r >= utf8.RuneSelf {
			return "", malformed(kind, "unexpected character %U", r)
		}
		if strings.ContainsRune(separators, r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// NormalizeMobile normalises a mainland China mobile number to "86"
// followed by its 11 national digits.
func NormalizeMobile(raw string) (string, error) {
	const kind = "mobile number"
	s, err := fold(kind, raw, " \t-.()")
	if err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(s, "+"):
		if !strings.HasPrefix(s, "+86") {
			return "", malformed(kind, "country code is not +86")
		}
		s = s[3:]
	case strings.HasPrefix(s, "0086"):
		s = s[4:]
	case len(s) == 13 && strings.HasPrefix(s, "86"):
		s = s[2:]
	}
	if !allDigits(s) {
		return "", malformed(kind, "contains characters other than digits and separators")
	}
	if len(s) != 11 {
		return "", malformed(kind, "%d national digits, want 11", len(s))
	}
	if s[0] != '1' || s[1] < '3' {
		return "", malformed(kind, "national number does not start with 13–19")
	}
	return "86" + s, nil
}

// provinces holds the first two digits of identity numbers in use.
var provinces = [100]bool{
	11: true, 12: true, 13: true, 14: true, 15: true,
	21: true, 22: true, 23: true,
	31: true, 32: true, 33: true, 34: true, 35: true, 36: true, 37: true,
	41: true, 42: true, 43: true, 44: true, 45: true, 46: true,
	50: true, 51: true, 52: true, 53: true, 54: true,
	61: true, 62: true, 63: true, 64: true, 65: true,
	71: true, 81: true, 82: true, 83: true,
}

// checkWeights are 2^(17−i) mod 11, i = 0..16 (ISO 7064 MOD 11-2).
var checkWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// CheckCharacter returns the ISO 7064 MOD 11-2 check character of the
// first 17 digits of an identity number.
func CheckCharacter(digits17 string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(digits17[i]-'0') * checkWeights[i]
	}
	c := (12 - sum%11) % 11
	if c == 10 {
		return 'X'
	}
	return byte('0' + c)
}

// NormalizeIDCard normalises a resident identity card number to its 18
// characters with an upper-case check character, converting a legacy
// 15-digit number.
func NormalizeIDCard(raw string) (string, error) {
	const kind = "identity number"
	s, err := fold(kind, raw, " \t-")
	if err != nil {
		return "", err
	}
	s = strings.ToUpper(s)
	switch len(s) {
	case 15:
		if !allDigits(s) {
			return "", malformed(kind, "15-character number with non-digits")
		}
		s = s[:6] + "19" + s[6:]
		s += string(CheckCharacter(s))
	case 18:
		if !allDigits(s[:17]) || !(allDigits(s[17:]) || s[17] == 'X') {
			return "", malformed(kind, "want 17 digits and a check digit or X")
		}
	default:
		return "", malformed(kind, "%d characters, want 18 (or a legacy 15)", len(s))
	}
	if !provinces[int(s[0]-'0')*10+int(s[1]-'0')] {
		return "", malformed(kind, "unknown province code %s", s[:2])
	}
	if !validDate(s[6:14]) {
		return "", malformed(kind, "birth date digits are not a calendar date in 1880–2099")
	}
	if want := CheckCharacter(s); s[17] != want {
		return "", malformed(kind, "check character does not match (ISO 7064 MOD 11-2)")
	}
	return s, nil
}

// validDate reports whether yyyymmdd is a Gregorian date in 1880–2099.
func validDate(yyyymmdd string) bool {
	n := func(s string) int {
		v := 0
		for i := 0; i < len(s); i++ {
			v = v*10 + int(s[i]-'0')
		}
		return v
	}
	y, m, d := n(yyyymmdd[:4]), n(yyyymmdd[4:6]), n(yyyymmdd[6:])
	if y < 1880 || y > 2099 || m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m]
	if m == 2 && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		days = 29
	}
	return d <= days
}

// Domain separates the hashes of one query from every other use: the
// federation, the query and the identifier kind.
type Domain struct {
	Federation string
	Query      string
	Kind       Kind
}

// MaxDomainField bounds Federation and Query.
const MaxDomainField = 255

// Prefix returns the bytes hashed in front of every normalised identifier:
// "fedscore/psi/v1", then the federation, the query and the kind name,
// each preceded by its length as one byte.
func (d Domain) Prefix() ([]byte, error) {
	if !d.Kind.Valid() {
		return nil, fmt.Errorf("%w %d", ErrUnknownKind, d.Kind)
	}
	if d.Federation == "" || d.Query == "" {
		return nil, errors.New("domain: federation and query must be set")
	}
	if len(d.Federation) > MaxDomainField || len(d.Query) > MaxDomainField {
		return nil, fmt.Errorf("domain: federation and query must be at most %d bytes", MaxDomainField)
	}
	var b []byte
	for _, f := range []string{"fedscore/psi/v1", d.Federation, d.Query, d.Kind.String()} {
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b, nil
}
