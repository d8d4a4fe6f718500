package ident

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestNormalizeMobile(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"13800138000", "8613800138000"},
		{"+86 138-0013-8000", "8613800138000"},
		{"0086 138 0013 8000", "8613800138000"},
		{"8613800138000", "8613800138000"},
		{"(+86) 199.1234.5678", "8619912345678"},
		{"１３８００１３８０００", "8613800138000"},     // full-width digits
		{"＋８６　13800138000", "8613800138000"}, // full-width plus, ideographic space
	} {
		got, err := NormalizeMobile(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeMobile(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", "1380013800", "138001380001", "+1 415 555 0100", "+852 9123 4567",
		"12800138000", "23800138000", "010-12345678", "1380013800a", "138 0013 8000 ext 1",
		"86 1380013800", strings.Repeat("1", 100), "13800\xff138000",
	} {
		if got, err := NormalizeMobile(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("NormalizeMobile(%q) = %q, %v, want ErrMalformed", in, got, err)
		}
	}
}

func TestNormalizeIDCard(t *testing.T) {
	for _, tt := range []struct {
		in, want string
	}{
		{"11010519491231002X", "11010519491231002X"}, // GB 11643-1999 example
		{"11010519491231002x", "11010519491231002X"},
		{"440524188001010014", "440524188001010014"}, // GB 11643-1999 example, born 1880
		{"110105 1949 1231 002X", "11010519491231002X"},
		{"110105491231002", "11010519491231002X"}, // legacy 15 digits, converted
		{"１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X"},
	} {
		got, err := NormalizeIDCard(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("NormalizeIDCard(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", "110105194912310021", // wrong check digit
		"11010519491231002Y", "1101051949123100X2", "99010519491231002X", // unknown province
		"110105194902300027", // 30 February
		"110105187901010010", // before 1880
		"1101051949123100",   // 16 characters
		"11010549123100A",    // legacy with a letter
	} {
		if got, err := NormalizeIDCard(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("NormalizeIDCard(%q) = %q, %v, want ErrMalformed", in, got, err)
		}
	}
}

// TestCheckCharacterDetectsSingleErrors checks the MOD 11-2 property the
// normalisation relies on: every single-digit change and every adjacent
// transposition of the first 17 digits changes the check character.
func TestCheckCharacterDetectsSingleErrors(t *testing.T) {
	base := "11010519491231002"
	want := CheckCharacter(base)
	for i := 0; i < 17; i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == base[i] {
				continue
			}
			s := base[:i] + string(d) + base[i+1:]
			if CheckCharacter(s) == want {
				t.Errorf("change at %d to %c not detected", i, d)
			}
		}
		if i < 16 && base[i] != base[i+1] {
			s := base[:i] + string(base[i+1]) + string(base[i]) + base[i+2:]
			if CheckCharacter(s) == want {
				t.Errorf("transposition at %d not detected", i)
			}
		}
	}
}

func TestDomainPrefix(t *testing.T) {
	a, err := Domain{Federation: "fed", Query: "q1", Kind: KindMobile}.Prefix()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Domain{
		{Federation: "fed", Query: "q2", Kind: KindMobile},
		{Federation: "fe", Query: "dq1", Kind: KindMobile}, // same concatenation
		{Federation: "fed", Query: "q1", Kind: KindIDCard},
	} {
		b, err := d.Prefix()
		if err != nil {
			t.Fatal(err)
		}
		if string(a) == string(b) {
			t.Errorf("%+v has the same prefix as fed/q1/mobile", d)
		}
	}
	for _, d := range []Domain{
		{Federation: "", Query: "q", Kind: KindMobile},
		{Federation: "f", Query: strings.Repeat("q", 256), Kind: KindMobile},
		{Federation: "f", Query: "q", Kind: 9},
	} {
		if _, err := d.Prefix(); err == nil {
			t.Errorf("%+v: no error", d)
		}
	}
}

func TestReader(t *testing.T) {
	input := "# partner B export\n13800138000\n\n+86 139 0000 0001\nnot a number\n13800138000\n12345\n"
	t.Run("first error stops with its line", func(t *testing.T) {
		r, err := NewReader(strings.NewReader(input), ReaderConfig{File: "b.txt", Kind: KindMobile})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			rec, err := r.Next()
			if err != nil {
				var le *LineError
				if !errors.As(err, &le) || le.Line != 5 || le.File != "b.txt" || !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v, want b.txt:5 malformed", err)
				}
				if !strings.HasPrefix(err.Error(), "b.txt:5: ") || strings.Contains(err.Error(), "not a number") {
					t.Errorf("error text %q", err)
				}
				break
			}
			got = append(got, rec.ID)
		}
		if strings.Join(got, " ") != "8613800138000 8613900000001" {
			t.Errorf("records %v", got)
		}
	})
	t.Run("counted and reported", func(t *testing.T) {
		r, _ := NewReader(strings.NewReader(input), ReaderConfig{File: "b.txt", Kind: KindMobile, MaxMalformed: 5})
		n := 0
		for {
			_, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		rep := r.Report()
		if n != 3 || rep.Accepted != 3 || rep.Malformed != 2 || rep.Lines != 5 || len(rep.Examples) != 2 || rep.Examples[1].Line != 7 {
			t.Errorf("n = %d, report %+v", n, rep)
		}
	})
	t.Run("budget exceeded", func(t *testing.T) {
		r, _ := NewReader(strings.NewReader(input), ReaderConfig{Kind: KindMobile, MaxMalformed: 1})
		var err error
		for err == nil {
			_, err = r.Next()
		}
		if !errors.Is(err, ErrTooManyMalformed) || !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v", err)
		}
	})
	t.Run("segments", func(t *testing.T) {
		in := "11010519491231002X,2\n440524188001010014, 0\n110105491231002,3\n"
		r, _ := NewReader(strings.NewReader(in), ReaderConfig{Kind: KindIDCard, Segments: 3, MaxMalformed: 1})
		a, err1 := r.Next()
		b, err2 := r.Next()
		_, err3 := r.Next()
		if err1 != nil || err2 != nil || a.Segment != 2 || b.Segment != 0 || err3 != io.EOF || r.Report().Malformed != 1 {
			t.Errorf("%+v %v %+v %v %v %+v", a, err1, b, err2, err3, r.Report())
		}
	})
	t.Run("overlong line", func(t *testing.T) {
		r, _ := NewReader(strings.NewReader("13800138000\n"+strings.Repeat("9", 1000)+"\n"), ReaderConfig{Kind: KindMobile})
		r.Next()
		_, err := r.Next()
		var le *LineError
		if !errors.As(err, &le) || le.Line != 2 {
			t.Errorf("error %v", err)
		}
	})
}
