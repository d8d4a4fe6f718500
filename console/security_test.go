package console_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/pki"
)

func newHandler(t *testing.T, cfg console.Config) http.Handler {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	s, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s.Handler()
}

func do(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func consolePost(path, contentType string, body io.Reader) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8080"+path, body)
	r.Header.Set("Content-Type", contentType)
	r.Header.Set(console.RequestHeader, "1")
	return r
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	h := newHandler(t, console.Config{})
	for _, path := range []string{"/", "/js/app.js", "/api/session", "/api/catalog", "/no-such-page"} {
		w := do(h, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil))
		hd := w.Header()
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
			t.Errorf("%s: CSP %q allows inline code or any source", path, csp)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if hd.Get(k) != v {
				t.Errorf("%s: %s = %q, want %q", path, k, hd.Get(k), v)
			}
		}
		if strings.HasPrefix(path, "/api/") && hd.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: API response may be cached", path)
		}
	}
}

// The page must hold no inline script or style, which the CSP would block
// anyway, and no key material.
func TestPageHasNoInlineCodeOrSecrets(t *testing.T) {
	h := newHandler(t, console.Config{})
	for _, path := range []string{"/", "/js/app.js", "/js/analyst.js", "/js/regulator.js", "/js/operator.js", "/js/charts.js", "/js/i18n.js", "/api/session", "/api/catalog", "/api/bundles"} {
		w := do(h, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, w.Code)
		}
		body := w.Body.String()
		if strings.Contains(body, "PRIVATE KEY") || strings.Contains(body, "BEGIN EC") {
			t.Errorf("%s holds key material", path)
		}
		if path == "/" {
			for _, inline := range []string{"<style", " style=", " onclick=", " onload=", " onerror=", "javascript:"} {
				if strings.Contains(body, inline) {
					t.Errorf("index.html has inline code: %q", inline)
				}
			}
			for _, tag := range strings.Split(body, "<script")[1:] {
				if !strings.Contains(tag[:strings.Index(tag, ">")], "src=") {
					t.Errorf("index.html has an inline script: <script%s", tag[:strings.Index(tag, ">")+1])
				}
			}
		}
	}
}

func TestStateChangingRequestsNeedTheConsoleHeader(t *testing.T) {
	h := newHandler(t, console.Config{})
	body := `{"text":"purpose: marketing_analytics\nmetrics: [{kind: count}]\nmin_partners: 3\n"}`
	ok := consolePost("/api/spec/check", "application/json", strings.NewReader(body))
	if w := do(h, ok); w.Code != http.StatusOK {
		t.Fatalf("same-origin POST with the header = %d %s", w.Code, w.Body)
	}
	noHeader := consolePost("/api/spec/check", "application/json", strings.NewReader(body))
	noHeader.Header.Del(console.RequestHeader)
	if w := do(h, noHeader); w.Code != http.StatusForbidden {
		t.Errorf("POST without %s = %d, want 403", console.RequestHeader, w.Code)
	}
	// A cross-site form can only send these content types.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded"} {
		if w := do(h, consolePost("/api/spec/check", ct, strings.NewReader(body))); w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("POST as %s = %d, want 415", ct, w.Code)
		}
	}
}

func TestCrossOriginRequestsAreRefused(t *testing.T) {
	h := newHandler(t, console.Config{})
	for name, set := range map[string]func(*http.Request){
		"sec-fetch-site": func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") },
		"origin":         func(r *http.Request) { r.Header.Set("Origin", "http://evil.example") },
	} {
		r := consolePost("/api/spec/check", "application/json", strings.NewReader(`{"text":"x"}`))
		set(r)
		if w := do(h, r); w.Code != http.StatusForbidden {
			t.Errorf("%s: cross-origin POST = %d, want 403", name, w.Code)
		}
	}
	// Reads stay possible for the same origin.
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/session", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if w := do(h, r); w.Code != http.StatusOK {
		t.Errorf("same-origin GET = %d", w.Code)
	}
}

// A page that rebinds its own name to 127.0.0.1 looks same-origin to the
// browser; the console answers only to loopback names.
func TestForeignHostIsRefused(t *testing.T) {
	h := newHandler(t, console.Config{})
	for _, host := range []string{"evil.example:8080", "evil.example", "10.0.0.1:8080"} {
		r := httptest.NewRequest(http.MethodGet, "http://"+host+"/api/session", nil)
		if w := do(h, r); w.Code != http.StatusMisdirectedRequest {
			t.Errorf("Host %s = %d, want 421", host, w.Code)
		}
	}
	for _, host := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080"} {
		r := httptest.NewRequest(http.MethodGet, "http://"+host+"/api/session", nil)
		if w := do(h, r); w.Code != http.StatusOK {
			t.Errorf("Host %s = %d, want 200", host, w.Code)
		}
	}
}

func TestUploadsAreSizeLimited(t *testing.T) {
	h := newHandler(t, console.Config{MaxUpload: 4096})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("log", "audit.log")
	fw.Write(bytes.Repeat([]byte("x"), 10000))
	mw.Close()
	w := do(h, consolePost("/api/audit/verify", mw.FormDataContentType(), &buf))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized upload = %d %s, want 413", w.Code, w.Body)
	}
	big := `{"text":"` + strings.Repeat("a", 10000) + `"}`
	if w := do(h, consolePost("/api/spec/check", "application/json", strings.NewReader(big))); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized JSON = %d, want 413", w.Code)
	}
}

func TestListenElsewhereNeedsTLS(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.10:8080", "[::]:8080", "example.com:80"} {
		if _, err := console.New(console.Config{Listen: addr}); !errors.Is(err, console.ErrNotLoopback) {
			t.Errorf("Listen %q without TLS: err = %v, want ErrNotLoopback", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "localhost:8080", "[::1]:0", "127.0.0.2:80"} {
		if _, err := console.New(console.Config{Listen: addr}); err != nil {
			t.Errorf("Listen %q: %v", addr, err)
		}
	}
}

// Over TLS every client needs a certificate of the federation, and each
// role reaches only its part of the console.
func TestTLSRequiresClientCertificatesAndRoles(t *testing.T) {
	ca, err := pki.NewCA("test.fedscore.local", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(role, name string) *pki.Credential {
		c, err := ca.Issue(pki.Identity{TrustDomain: "test.fedscore.local", Role: role, Name: name}, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	server := issue(pki.RoleCoordinator, "console")
	s, err := console.New(console.Config{Listen: "0.0.0.0:0", TLS: &console.TLSConfig{Credential: server, ClientRoots: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	lis, url, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	lis.Close()
	if !strings.HasPrefix(url, "https://") {
		t.Errorf("URL %s is not https", url)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.TLS = pki.ServerTLSConfig(server, ca.Pool(), pki.RoleQuerier, pki.RoleRegulator, pki.RoleOperator)
	ts.StartTLS()
	defer ts.Close()

	client := func(cred *pki.Credential) *http.Client {
		cfg := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", MinVersion: tls.VersionTLS13}
		if cred != nil {
			cfg.Certificates = []tls.Certificate{cred.TLSCertificate()}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	get := func(c *http.Client, path string) (int, error) {
		res, err := c.Get(ts.URL + path)
		if err != nil {
			return 0, err
		}
		res.Body.Close()
		return res.StatusCode, nil
	}
	if _, err := get(client(nil), "/api/session"); err == nil {
		t.Error("a client without a certificate was served")
	}
	if _, err := get(client(issue(pki.RoleNode, "bank")), "/api/session"); err == nil {
		t.Error("a node certificate was accepted")
	}
	other, _ := pki.NewCA("test.fedscore.local", time.Hour)
	stranger, _ := other.Issue(pki.Identity{TrustDomain: "test.fedscore.local", Role: pki.RoleRegulator, Name: "x"}, nil, nil)
	if _, err := get(client(stranger), "/api/session"); err == nil {
		t.Error("a certificate of another CA was accepted")
	}
	regulator, analyst := client(issue(pki.RoleRegulator, "cac")), client(issue(pki.RoleQuerier, "analyst"))
	for _, tc := range []struct {
		c    *http.Client
		path string
		want int
	}{
		{regulator, "/api/bundles", http.StatusOK},
		{regulator, "/api/catalog", http.StatusForbidden},
		{regulator, "/api/queries", http.StatusForbidden},
		{analyst, "/api/catalog", http.StatusOK},
		{analyst, "/api/bundles", http.StatusForbidden},
		{analyst, "/", http.StatusOK},
	} {
		code, err := get(tc.c, tc.path)
		if err != nil || code != tc.want {
			t.Errorf("GET %s = %d, %v; want %d", tc.path, code, err, tc.want)
		}
	}
	// Over TLS the certificate binds the name: no loopback-host rule.
	res, err := regulator.Get(ts.URL + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
}
