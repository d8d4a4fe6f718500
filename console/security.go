package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/fedscore/fedscore/pki"
)

// RequestHeader must be present, with the value "1", on every
// state-changing request. A cross-site form or a simple cross-origin
// request cannot set it, and setting it needs a CORS preflight the console
// never approves.
const RequestHeader = "X-Fedscore-Console"

// ContentSecurityPolicy is sent with every response: only the console's own
// scripts, styles and connections; no inline code, plugins, framing or
// foreign form targets.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ErrNotLoopback reports a listen address that needs TLS.
var ErrNotLoopback = errors.New("console: a listen address other than loopback requires TLS with client certificates")

// checkListen allows a non-loopback address only with TLS.
func checkListen(addr string, tls *TLSConfig) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("console: listen address %q: %w", addr, err)
	}
	if tls != nil {
		if tls.Credential == nil || tls.ClientRoots == nil {
			return errors.New("console: TLS needs a server credential and client roots")
		}
		return nil
	}
	if !isLoopbackHost(host) {
		return fmt.Errorf("%w (got %q)", ErrNotLoopback, addr)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secure wraps h with the console's protections.
func (s *Server) secure(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	inner := cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !safeMethod(r.Method) {
			if r.Header.Get(RequestHeader) != "1" {
				writeError(w, http.StatusForbidden, "missing "+RequestHeader+" request header")
				return
			}
			ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if ct != "application/json" && ct != "multipart/form-data" {
				writeError(w, http.StatusUnsupportedMediaType, "want application/json or multipart/form-data")
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload)
		h.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ContentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if s.cfg.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if strings.HasPrefix(r.URL.Path, "/api/") {
			hd.Set("Cache-Control", "no-store")
		}
		// On loopback a page elsewhere could rebind its own name to
		// 127.0.0.1 and so look same-origin; only loopback names are
		// served. Over TLS the certificate binds the name.
		if s.cfg.TLS == nil && !loopbackRequestHost(r.Host) {
			writeError(w, http.StatusMisdirectedRequest, "the console answers only to a loopback host name")
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func loopbackRequestHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return isLoopbackHost(strings.Trim(host, "[]"))
}

// clientIdentity is the verified identity of a TLS client.
func clientIdentity(r *http.Request) (pki.Identity, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		return pki.Identity{}, false
	}
	id, err := pki.IdentityFromCert(r.TLS.VerifiedChains[0][0])
	return id, err == nil
}

// roles admits a TLS client only with one of the roles; on loopback the
// console's own user holds them all.
func roles(allowed ...string) func(http.HandlerFunc) http.Handler {
	return func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS != nil {
				id, ok := clientIdentity(r)
				if !ok || !slices.Contains(allowed, id.Role) {
					writeError(w, http.StatusForbidden, fmt.Sprintf("this part of the console needs the role %s", strings.Join(allowed, " or ")))
					return
				}
			}
			h(w, r)
		})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// apiError is every error body: a message, and field problems where a spec
// was at fault.
type apiError struct {
	Error    string    `json:"error"`
	Problems []problem `json:"problems,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// readJSON decodes a JSON request body, reporting an oversized one.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request larger than %d bytes", tooBig.Limit))
		} else {
			writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		}
		return false
	}
	return true
}
