package ident

import "testing"

// FuzzNormalize checks that normalisation never panics, is idempotent and
// only produces the documented forms.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"13800138000", "+86 138-0013-8000", "11010519491231002x", "110105491231002", "１３８", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, k := range []Kind{KindMobile, KindIDCard} {
			n, err := Normalize(k, raw)
			if err != nil {
				continue
			}
			if again, err := Normalize(k, n); err != nil || again != n {
				t.Fatalf("%v: Normalize(%q) = %q, again %q, %v", k, raw, n, again, err)
			}
			if k == KindMobile && (len(n) != 13 || n[:3] < "861" || !allDigits(n)) {
				t.Fatalf("mobile form %q", n)
			}
			if k == KindIDCard && (len(n) != 18 || CheckCharacter(n) != n[17]) {
				t.Fatalf("identity form %q", n)
			}
		}
	})
}
