package scoring

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// MaxModelFileSize bounds the size of a model file.
const MaxModelFileSize = 16 << 20

// Decode parses a model from JSON and validates it. Decoding is strict: a
// syntax error, an unknown, duplicate or wrongly cased key, a value of the
// wrong type, a number out of float64 range or trailing data is an error
// naming the field. The result has ProtectedInputs filled in.
func Decode(data []byte) (*Model, error) {
	m, err := decodeModel(data, "")
	if err != nil {
		return nil, err
	}
	m.ProtectedInputs = ProtectedInputs(m, nil)
	return m, nil
}

// decodeModel decodes and validates a model, prefixing field paths with
// prefix (such as "model.").
func decodeModel(data []byte, prefix string) (*Model, error) {
	var m Model
	if err := decodeStrict(data, &m, prefix); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		if prefix != "" {
			err = prefixPaths(err, prefix)
		}
		return nil, err
	}
	return &m, nil
}

func prefixPaths(err error, prefix string) error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		var fe *FieldError
		if errors.As(e, &fe) {
			out[i] = fieldErr(prefix+fe.Path, fe.Problem)
		} else {
			out[i] = e
		}
	}
	return errors.Join(out...)
}

// DecodeValue decodes a model from a value already parsed from JSON, such
// as an entry of a policy bundle's data document, as strictly as [Decode].
func DecodeValue(v any) (*Model, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fieldErr("", err.Error())
	}
	return Decode(data)
}

// LoadFile reads and decodes an unsigned model file. Use [VerifyFile] for
// a model a node is to score with.
func LoadFile(path string) (*Model, error) {
	data, err := readFileLimited(path)
	if err != nil {
		return nil, err
	}
	m, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("scoring: %s: %w", path, err)
	}
	return m, nil
}

func readFileLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxModelFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("scoring: %s: %w", path, err)
	}
	if len(data) > MaxModelFileSize {
		return nil, fmt.Errorf("scoring: %s: larger than %d bytes: %w", path, MaxModelFileSize, ErrInvalidModel)
	}
	return data, nil
}

// Encode returns m as indented JSON, the reviewable form of a model file.
// The model must be valid.
func Encode(m *Model) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("scoring: encoding: %w", err)
	}
	return append(data, '\n'), nil
}

// Canonical returns the canonical JSON of m: compact, fields in
// declaration order, category keys sorted, numbers in their shortest
// exact form. Decoding any JSON form of a model and re-encoding it gives
// the same bytes, so signatures and digests do not depend on formatting.
func Canonical(m *Model) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("scoring: encoding: %w", err)
	}
	return data, nil
}

// Digest returns the hex SHA-256 of m's canonical JSON: it identifies the
// exact model in receipts, audit records and policy decisions.
func (m *Model) Digest() (string, error) {
	data, err := Canonical(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// DecodeStrict decodes the JSON document data into v, a pointer to a
// struct, as strictly as [Decode] reads a model: a syntax error, an
// unknown, duplicate or wrongly cased key, a value of the wrong type, a
// number out of range or trailing data is a [FieldError] naming the field.
// It serves the files that configure models, such as fit configurations.
func DecodeStrict(data []byte, v any) error { return decodeStrict(data, v, "") }

// decodeStrict is DecodeStrict with field paths prefixed by prefix (such
// as "model.").
func decodeStrict(data []byte, v any, prefix string) error {
	if err := checkShape(data, v, prefix); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fieldErr("", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// checkShape checks data against the JSON shape of v's type without
// decoding it, reporting the first problem with the path of its field.
func checkShape(data []byte, v any, prefix string) error {
	d := &walker{dec: json.NewDecoder(bytes.NewReader(data)), data: data}
	d.dec.UseNumber()
	root := strings.TrimSuffix(prefix, ".")
	if err := d.value(reflect.TypeOf(v).Elem(), root); err != nil {
		return err
	}
	if _, err := d.dec.Token(); err != io.EOF {
		return d.fail(root, "unexpected data after the document")
	}
	return nil
}

type walker struct {
	dec   *json.Decoder
	data  []byte
	depth int
}

func (w *walker) fail(path, problem string) error {
	line, col := lineCol(w.data, int(w.dec.InputOffset()))
	return fieldErr(path, fmt.Sprintf("%s (line %d, column %d)", problem, line, col))
}

func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

func (w *walker) token(path string) (json.Token, error) {
	tok, err := w.dec.Token()
	if err == io.EOF {
		return nil, w.fail(path, "unexpected end of input")
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineCol(w.data, int(se.Offset))
			return nil, fieldErr(path, fmt.Sprintf("%s (line %d, column %d)", strings.TrimPrefix(se.Error(), "json: "), line, col))
		}
		return nil, w.fail(path, strings.TrimPrefix(err.Error(), "json: "))
	}
	return tok, nil
}

func (w *walker) value(t reflect.Type, path string) error {
	tok, err := w.token(path)
	if err != nil {
		return err
	}
	return w.tokenValue(tok, t, path)
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		if len(v) > 40 {
			v = v[:40] + "…"
		}
		return "string " + strconv.Quote(v)
	case json.Number:
		return "number " + v.String()
	case bool:
		return "bool " + strconv.FormatBool(v)
	}
	return fmt.Sprintf("%v", tok)
}

func (w *walker) tokenValue(tok json.Token, t reflect.Type, path string) error {
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > 64 {
		return w.fail(path, "nested too deeply")
	}
	if t == reflect.TypeFor[json.RawMessage]() {
		return w.anyValue(tok, path)
	}
	switch t.Kind() {
	case reflect.Pointer:
		if tok == nil {
			return nil
		}
		return w.tokenValue(tok, t.Elem(), path)
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.fail(path, "want an object, got "+describe(tok))
		}
		fields := jsonFields(t)
		return w.object(path, joinPath, func(key, kp string) error {
			ft, ok := fields[key]
			if !ok {
				return w.fail(kp, "unknown field")
			}
			return w.value(ft, kp)
		})
	case reflect.Map:
		if tok == nil {
			return nil
		}
		if tok != json.Delim('{') {
			return w.fail(path, "want an object, got "+describe(tok))
		}
		return w.object(path, mapKeyPath, func(_, kp string) error { return w.value(t.Elem(), kp) })
	case reflect.Slice:
		if tok == nil {
			return nil
		}
		if tok != json.Delim('[') {
			return w.fail(path, "want an array, got "+describe(tok))
		}
		return w.array(path, func(ip string) error { return w.value(t.Elem(), ip) })
	case reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.fail(path, "want a number, got "+describe(tok))
		}
		f, err := strconv.ParseFloat(n.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return w.fail(path, "number "+n.String()+" is out of range")
		}
		return nil
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.fail(path, "want an integer, got "+describe(tok))
		}
		if _, err := strconv.ParseInt(n.String(), 10, 32); err != nil {
			return w.fail(path, "want an integer of at most 32 bits, got "+n.String())
		}
		return nil
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return w.fail(path, "want a string, got "+describe(tok))
		}
		return nil
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.fail(path, "want true or false, got "+describe(tok))
		}
		return nil
	}
	return w.fail(path, "unsupported type "+t.String())
}

// anyValue checks any JSON value for duplicate keys and depth.
func (w *walker) anyValue(tok json.Token, path string) error {
	next := func(p string) error {
		tok, err := w.token(p)
		if err != nil {
			return err
		}
		w.depth++
		defer func() { w.depth-- }()
		if w.depth > 64 {
			return w.fail(p, "nested too deeply")
		}
		return w.anyValue(tok, p)
	}
	switch tok {
	case json.Delim('{'):
		return w.object(path, joinPath, func(_, kp string) error { return next(kp) })
	case json.Delim('['):
		return w.array(path, next)
	}
	return nil
}

// object walks the members of an object whose '{' has been read,
// refusing duplicate keys: each calls member with its key and its path
// (keyPath of the object's path and the key). It reads the closing '}'.
func (w *walker) object(path string, keyPath func(path, key string) string, member func(key, kp string) error) error {
	seen := make(map[string]bool)
	for w.dec.More() {
		ktok, err := w.token(path)
		if err != nil {
			return err
		}
		key := ktok.(string)
		kp := keyPath(path, key)
		if seen[key] {
			return w.fail(kp, "duplicate key")
		}
		seen[key] = true
		if err := member(key, kp); err != nil {
			return err
		}
	}
	_, err := w.token(path)
	return err
}

// array walks the elements of an array whose '[' has been read, calling
// elem with each element's path. It reads the closing ']'.
func (w *walker) array(path string, elem func(ip string) error) error {
	for i := 0; w.dec.More(); i++ {
		if err := elem(path + "[" + strconv.Itoa(i) + "]"); err != nil {
			return err
		}
	}
	_, err := w.token(path)
	return err
}

func mapKeyPath(path, key string) string { return path + "[" + strconv.Quote(key) + "]" }

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// jsonFields maps the JSON names of t's exported fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fields[name] = f.Type
	}
	return fields
}
