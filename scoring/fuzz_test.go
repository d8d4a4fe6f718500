package scoring

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeModel: decoding arbitrary input never panics, and whatever it
// accepts is a valid model whose canonical form decodes to itself.
func FuzzDecodeModel(f *testing.F) {
	f.Add([]byte(validModelJSON))
	f.Add([]byte(strings.Replace(validModelJSON, `"weight": 0.5`, `"weight": NaN`, 1)))
	f.Add([]byte(strings.Replace(validModelJSON, `"bins": [0, 5], `, ``, 1)))
	f.Add([]byte(strings.Replace(validModelJSON, `"intercept": -1`, `"intercept": -1, "x": {"y": [1, {"z": null}]}`, 1)))
	f.Add([]byte(`{"name": "m", "version": "1", "features": [{"column": "c", "encoding": "categorical", "categories": {"\u00e9": 1e-320, "b": -0}, "weight": 1, "missing": 0, "unknown": null}], "intercept": 0, "score": {"pdo": 1, "base_score": 0, "base_odds": 1, "min": -1, "max": 1, "event": "favourable"}, "grades": [{"grade": "x", "min_score": -1}]}`))
	f.Add([]byte(`{"features": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	f.Add([]byte(`{"format": "fedscore.signed-model.v1", "model": {}, "signature": {"key_id": "k", "alg": "ES256", "digest": "00", "sig": "AA"}}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Verify must reject without panicking: no key is trusted.
		if m, err := Verify(data); err == nil {
			t.Fatalf("Verify accepted %q without keys: %+v", data, m)
		}
		m, err := Decode(data)
		if err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid model: %v", err)
		}
		c1, err := Canonical(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(c1)
		if err != nil {
			t.Fatalf("canonical form %s does not decode: %v", c1, err)
		}
		c2, err := Canonical(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical form changes on a round trip:\n%s\n%s", c1, c2)
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		m3, err := Decode(enc)
		if err != nil {
			t.Fatalf("encoded form does not decode: %v", err)
		}
		if d1, _ := m.Digest(); func() string { d, _ := m3.Digest(); return d }() != d1 {
			t.Fatal("digest changes across Encode/Decode")
		}
	})
}
