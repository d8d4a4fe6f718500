package scoring

import (
	"slices"
	"unicode"
)

// DefaultProtectedAttributes returns the attributes that a model may not
// use as a direct input without a fairness-audit purpose: gender, age,
// race and ethnicity (named as grounds of algorithmic discrimination in
// the seed research), and the other personal characteristics that
// anti-discrimination and personal-information law commonly protects.
// Each call returns a new slice.
func DefaultProtectedAttributes() []string {
	return []string{
		"gender", "sex", "age", "birth", "dob",
		"race", "ethnicity", "ethnic", "nationality", "religion", "religious",
		"marital", "marriage", "pregnancy", "disability",
		"sexual_orientation", "union_membership", "political",
	}
}

// ProtectedInputs returns the distinct feature columns of m that name one
// of the protected attributes, in feature order. nil attrs means
// [DefaultProtectedAttributes].
//
// Names match word by word: a column and an attribute are split into
// lower-case words at non-alphanumeric characters, lower-to-upper case
// changes and letter–digit changes, and the column matches when the
// attribute's words occur in it consecutively. So "AGE", "age_band",
// "applicantAge" and "personal_status_sex" match "age" or "sex", while
// "page_views", "mortgage" and "agent" do not.
func ProtectedInputs(m *Model, attrs []string) []string {
	if attrs == nil {
		attrs = DefaultProtectedAttributes()
	}
	words := make([][]string, 0, len(attrs))
	for _, a := range attrs {
		if w := nameWords(a); len(w) > 0 {
			words = append(words, w)
		}
	}
	var out []string
	for _, f := range m.Features {
		if slices.Contains(out, f.Column) {
			continue
		}
		cw := nameWords(f.Column)
		for _, aw := range words {
			if containsRun(cw, aw) {
				out = append(out, f.Column)
				break
			}
		}
	}
	return out
}

// nameWords splits a column name into lower-case words.
func nameWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if i > 0 && len(cur) > 0 {
			p := rs[i-1]
			switch {
			case unicode.IsLower(p) && unicode.IsUpper(r),
				unicode.IsLetter(p) && unicode.IsDigit(r),
				unicode.IsDigit(p) && unicode.IsLetter(r):
				flush()
			}
		}
		cur = append(cur, unicode.ToLower(r))
	}
	flush()
	return words
}

func containsRun(words, run []string) bool {
	for i := 0; i+len(run) <= len(words); i++ {
		if slices.Equal(words[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
