package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeVault is an HTTP double of exactly the Vault endpoints the package
// uses, with Vault's status codes and error bodies: seal status, response
// unwrapping, AppRole login, token renew/revoke/lookup, transit keys,
// datakey, decrypt and sign, and KV v2 data and metadata. It does real
// cryptography, so that the client code is driven through the real
// vault/api client end to end.
type fakeVault struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	sealed   bool
	roleID   string
	secretID map[string]int // secret_id -> uses left (-1: unlimited)
	wraps    map[string]map[string]any
	tokens   map[string]*fakeToken
	ttl      time.Duration // token TTL
	maxTTL   time.Duration // token max TTL
	keks     map[string][]byte
	signers  map[string]*ecdsa.PrivateKey
	kv       map[string]*fakeEntry
	pkiRole  string // the one PKI role, signing with caKey/caCert
	caKey    *ecdsa.PrivateKey
	caCert   *x509.Certificate

	logins, renewals, unwraps int
	// hook, if set, runs before each request is handled, with the lock
	// not held; it may change the double's state.
	hook func(method, path string)
}

type fakeToken struct {
	expires, maxExpires time.Time
}

type fakeEntry struct {
	version int
	data    map[string]any // nil: latest version deleted
}

func newFakeVault(t *testing.T) *fakeVault {
	t.Helper()
	f := newFakeVaultState(t)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeVaultTLS is newFakeVault serving HTTPS with a certificate from
// its own test CA (f.srv.Certificate()).
func newFakeVaultTLS(t *testing.T) *fakeVault {
	t.Helper()
	f := newFakeVaultState(t)
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func newFakeVaultState(t *testing.T) *fakeVault {
	return &fakeVault{
		t:        t,
		roleID:   "role-" + randID(),
		secretID: map[string]int{},
		wraps:    map[string]map[string]any{},
		tokens:   map[string]*fakeToken{},
		ttl:      time.Hour,
		maxTTL:   24 * time.Hour,
		keks:     map[string][]byte{},
		signers:  map[string]*ecdsa.PrivateKey{},
		kv:       map[string]*fakeEntry{},
	}
}

func randID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSecretID registers a secret_id with uses left (-1: unlimited).
func (f *fakeVault) newSecretID(uses int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := "sid-" + randID()
	f.secretID[id] = uses
	return id
}

// wrap response-wraps data and returns the wrapping token.
func (f *fakeVault) wrap(data map[string]any) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tok := "hvs.wrap-" + randID()
	f.wraps[tok] = data
	return tok
}

func (f *fakeVault) addKEK(name string) {
	k := make([]byte, 32)
	rand.Read(k)
	f.mu.Lock()
	f.keks[name] = k
	f.mu.Unlock()
}

func (f *fakeVault) addSigningKey(name string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.signers[name] = k
	f.mu.Unlock()
}

func (f *fakeVault) setSealed(b bool) {
	f.mu.Lock()
	f.sealed = b
	f.mu.Unlock()
}

func (f *fakeVault) entry(path string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.kv[path]; e != nil {
		return e.data
	}
	return nil
}

func (f *fakeVault) counts() (logins, renewals, unwraps int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logins, f.renewals, f.unwraps
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if body != nil {
		json.NewEncoder(w).Encode(body)
	}
}

func fail(w http.ResponseWriter, code int, msgs ...string) {
	if msgs == nil {
		msgs = []string{}
	}
	reply(w, code, map[string]any{"errors": msgs})
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		fail(w, http.StatusNotFound)
		return
	}
	if f.hook != nil {
		f.hook(r.Method, path)
	}
	var body map[string]any
	if r.Body != nil {
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil && err.Error() != "EOF" {
			fail(w, http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if path == "sys/seal-status" && r.Method == http.MethodGet {
		reply(w, http.StatusOK, map[string]any{
			"type": "shamir", "initialized": true, "sealed": f.sealed,
			"t": 1, "n": 1, "progress": 0, "version": "1.14.1",
		})
		return
	}
	if f.sealed {
		fail(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	token := r.Header.Get("X-Vault-Token")
	switch {
	case path == "sys/wrapping/unwrap" && r.Method == http.MethodPut:
		if t, ok := body["token"].(string); ok && t != "" {
			if !f.validToken(token) {
				fail(w, http.StatusForbidden, "permission denied")
				return
			}
			token = t
		}
		data, ok := f.wraps[token]
		if !ok {
			fail(w, http.StatusBadRequest, "wrapping token is not valid or does not exist")
			return
		}
		delete(f.wraps, token)
		f.unwraps++
		reply(w, http.StatusOK, map[string]any{"data": data})
		return
	case path == "auth/approle/login" && r.Method == http.MethodPut:
		role, _ := body["role_id"].(string)
		sid, _ := body["secret_id"].(string)
		uses, ok := f.secretID[sid]
		if role != f.roleID || !ok {
			fail(w, http.StatusBadRequest, "invalid role or secret ID")
			return
		}
		if uses > 0 {
			if uses == 1 {
				delete(f.secretID, sid)
			} else {
				f.secretID[sid] = uses - 1
			}
		}
		f.logins++
		tok := "hvs.tok-" + randID()
		now := time.Now()
		f.tokens[tok] = &fakeToken{expires: now.Add(f.ttl), maxExpires: now.Add(f.maxTTL)}
		reply(w, http.StatusOK, map[string]any{"auth": f.authBlock(tok)})
		return
	}
	if !f.validToken(token) {
		fail(w, http.StatusForbidden, "permission denied")
		return
	}
	switch {
	case path == "auth/token/renew-self" && r.Method == http.MethodPut:
		tk := f.tokens[token]
		tk.expires = time.Now().Add(f.ttl)
		if tk.expires.After(tk.maxExpires) {
			tk.expires = tk.maxExpires
		}
		f.renewals++
		reply(w, http.StatusOK, map[string]any{"auth": f.authBlock(token)})
	case path == "auth/token/revoke-self" && r.Method == http.MethodPut:
		delete(f.tokens, token)
		w.WriteHeader(http.StatusNoContent)
	case path == "auth/token/lookup-self" && r.Method == http.MethodGet:
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{"id": token, "renewable": false}})
	case strings.HasPrefix(path, "sys/internal/ui/mounts/") && r.Method == http.MethodGet:
		version := "2"
		if strings.TrimPrefix(path, "sys/internal/ui/mounts/") != "secret" {
			version = "1"
		}
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{
			"type": "kv", "path": strings.TrimPrefix(path, "sys/internal/ui/mounts/") + "/",
			"options": map[string]any{"version": version},
		}})
	case strings.HasPrefix(path, "transit/keys/") && r.Method == http.MethodGet:
		f.transitKey(w, strings.TrimPrefix(path, "transit/keys/"))
	case strings.HasPrefix(path, "transit/datakey/plaintext/") && r.Method == http.MethodPut:
		f.datakey(w, strings.TrimPrefix(path, "transit/datakey/plaintext/"), body)
	case strings.HasPrefix(path, "transit/decrypt/") && r.Method == http.MethodPut:
		f.decrypt(w, strings.TrimPrefix(path, "transit/decrypt/"), body)
	case strings.HasPrefix(path, "transit/sign/") && r.Method == http.MethodPut:
		f.sign(w, strings.TrimPrefix(path, "transit/sign/"), body)
	case strings.HasPrefix(path, "pki/sign/") && r.Method == http.MethodPut:
		f.pkiSign(w, strings.TrimPrefix(path, "pki/sign/"), body)
	case strings.HasPrefix(path, "secret/data/") && r.Method == http.MethodGet:
		f.kvRead(w, strings.TrimPrefix(path, "secret/data/"))
	case strings.HasPrefix(path, "secret/data/") && r.Method == http.MethodPut:
		f.kvWrite(w, strings.TrimPrefix(path, "secret/data/"), body)
	case strings.HasPrefix(path, "secret/metadata/") && r.Method == http.MethodDelete:
		delete(f.kv, strings.TrimPrefix(path, "secret/metadata/"))
		w.WriteHeader(http.StatusNoContent)
	default:
		f.t.Errorf("vault double: unexpected request %s %s", r.Method, r.URL.Path)
		fail(w, http.StatusNotFound, "unsupported path")
	}
}

// validToken reports whether tok is a live client token; f.mu is held.
func (f *fakeVault) validToken(tok string) bool {
	tk, ok := f.tokens[tok]
	if ok && time.Now().After(tk.expires) {
		delete(f.tokens, tok)
		ok = false
	}
	return ok
}

// authBlock is the "auth" of a login or renewal; f.mu is held.
func (f *fakeVault) authBlock(tok string) map[string]any {
	tk := f.tokens[tok]
	return map[string]any{
		"client_token":   tok,
		"accessor":       "acc-" + tok,
		"policies":       []string{"default", "fedscore-node"},
		"lease_duration": max(0, int(time.Until(tk.expires).Round(time.Second)/time.Second)),
		"renewable":      true,
	}
}

func (f *fakeVault) transitKey(w http.ResponseWriter, name string) {
	if _, ok := f.keks[name]; ok {
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{
			"name": name, "type": "aes256-gcm96", "latest_version": 1,
			"min_decryption_version": 1, "exportable": false,
			"keys": map[string]any{"1": 1700000000},
		}})
		return
	}
	if k, ok := f.signers[name]; ok {
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			f.t.Error(err)
		}
		pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{
			"name": name, "type": "ecdsa-p256", "latest_version": 1,
			"keys": map[string]any{"1": map[string]any{
				"creation_time": "2026-01-01T00:00:00Z", "name": "P-256", "public_key": pemKey,
			}},
		}})
		return
	}
	fail(w, http.StatusNotFound)
}

func (f *fakeVault) gcm(name string) cipher.AEAD {
	block, err := aes.NewCipher(f.keks[name])
	if err != nil {
		f.t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		f.t.Fatal(err)
	}
	return aead
}

func (f *fakeVault) datakey(w http.ResponseWriter, name string, body map[string]any) {
	if _, ok := f.keks[name]; !ok {
		fail(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	if bits := fmt.Sprint(body["bits"]); bits != "256" {
		fail(w, http.StatusBadRequest, "invalid bit length "+bits)
		return
	}
	dek := make([]byte, 32)
	rand.Read(dek)
	aead := f.gcm(name)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	ct := aead.Seal(nonce, nonce, dek, nil)
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{
		"plaintext":   base64.StdEncoding.EncodeToString(dek),
		"ciphertext":  "vault:v1:" + base64.StdEncoding.EncodeToString(ct),
		"key_version": 1,
	}})
}

func (f *fakeVault) decrypt(w http.ResponseWriter, name string, body map[string]any) {
	if _, ok := f.keks[name]; !ok {
		fail(w, http.StatusBadRequest, "encryption key not found")
		return
	}
	ct, _ := body["ciphertext"].(string)
	raw, ok := strings.CutPrefix(ct, "vault:v1:")
	b, err := base64.StdEncoding.DecodeString(raw)
	aead := f.gcm(name)
	if !ok || err != nil || len(b) < aead.NonceSize() {
		fail(w, http.StatusBadRequest, "invalid ciphertext: unable to decode ciphertext")
		return
	}
	dek, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], nil)
	if err != nil {
		fail(w, http.StatusBadRequest, "cipher: message authentication failed")
		return
	}
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(dek)}})
}

func (f *fakeVault) sign(w http.ResponseWriter, name string, body map[string]any) {
	k, ok := f.signers[name]
	if !ok {
		fail(w, http.StatusBadRequest, "signing key not found")
		return
	}
	if body["prehashed"] != true || body["hash_algorithm"] != "sha2-256" || body["marshaling_algorithm"] != "asn1" ||
		fmt.Sprint(body["key_version"]) != "1" {
		f.t.Errorf("vault double: sign request %v", body)
		fail(w, http.StatusBadRequest, "unexpected sign parameters")
		return
	}
	in, _ := body["input"].(string)
	digest, err := base64.StdEncoding.DecodeString(in)
	if err != nil || len(digest) != 32 {
		fail(w, http.StatusBadRequest, "unable to decode input as base64")
		return
	}
	sig, err := ecdsa.SignASN1(rand.Reader, k, digest)
	if err != nil {
		f.t.Error(err)
	}
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{
		"signature": "vault:v1:" + base64.StdEncoding.EncodeToString(sig), "key_version": 1,
	}})
}

func versionMeta(version int) map[string]any {
	return map[string]any{
		"version": version, "created_time": "2026-01-01T00:00:00.000000Z",
		"deletion_time": "", "destroyed": false, "custom_metadata": nil,
	}
}

func (f *fakeVault) kvRead(w http.ResponseWriter, path string) {
	e, ok := f.kv[path]
	if !ok {
		fail(w, http.StatusNotFound)
		return
	}
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{"data": e.data, "metadata": versionMeta(e.version)}})
}

func (f *fakeVault) kvWrite(w http.ResponseWriter, path string, body map[string]any) {
	data, ok := body["data"].(map[string]any)
	if !ok {
		fail(w, http.StatusBadRequest, "no data provided")
		return
	}
	cur := 0
	if e := f.kv[path]; e != nil {
		cur = e.version
	}
	if opts, ok := body["options"].(map[string]any); ok {
		if cas, ok := opts["cas"]; ok && fmt.Sprint(cas) != fmt.Sprint(cur) {
			fail(w, http.StatusBadRequest, "check-and-set parameter did not match the current version")
			return
		}
	}
	f.kv[path] = &fakeEntry{version: cur + 1, data: data}
	reply(w, http.StatusOK, map[string]any{"data": versionMeta(cur + 1)})
}

// addPKI gives the double a PKI mount "pki" with a CA and a role.
func (f *fakeVault) addPKI(role string) *x509.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "double CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		f.t.Fatal(err)
	}
	f.mu.Lock()
	f.pkiRole, f.caKey, f.caCert = role, key, ca
	f.mu.Unlock()
	return ca
}

func (f *fakeVault) pkiSign(w http.ResponseWriter, role string, body map[string]any) {
	if f.caCert == nil || role != f.pkiRole {
		fail(w, http.StatusBadRequest, "unknown role: "+role)
		return
	}
	in, _ := body["csr"].(string)
	block, _ := pem.Decode([]byte(in))
	if block == nil {
		fail(w, http.StatusBadRequest, "csr contains no data")
		return
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || csr.CheckSignature() != nil {
		fail(w, http.StatusBadRequest, "certificate request could not be parsed")
		return
	}
	ttl, err := time.ParseDuration(fmt.Sprint(body["ttl"]))
	if err != nil {
		ttl = time.Hour
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: csr.Subject, URIs: csr.URIs, DNSNames: csr.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(ttl),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.caCert, csr.PublicKey, f.caKey)
	if err != nil {
		f.t.Error(err)
	}
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.caCert.Raw}))
	reply(w, http.StatusOK, map[string]any{"data": map[string]any{
		"certificate":   string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"issuing_ca":    caPEM,
		"ca_chain":      []string{caPEM},
		"serial_number": "01",
	}})
}
