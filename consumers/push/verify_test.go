package push_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/infra/oidclocal"
)

func bearer(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/push/raw/bdl_injuries", nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

func TestVerifyAcceptsThePushAccount(t *testing.T) {
	t.Parallel()
	t.Run("local issuer", func(t *testing.T) {
		t.Parallel()
		iss := startIssuer(t, oidclocal.Options{})
		v := localVerifier(t, iss)
		id, err := v.Verify(context.Background(), bearer(mint(t, iss, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if id.Email != testAccount || id.Issuer != iss.Iss() || id.Subject == "" {
			t.Errorf("identity %+v", id)
		}
		if !v.Local() {
			t.Error("a verifier with PUSH_ISSUER does not report itself local")
		}
	})
	t.Run("local issuer found through discovery", func(t *testing.T) {
		t.Parallel()
		iss := startIssuer(t, oidclocal.Options{})
		v, err := push.NewVerifier(context.Background(), push.Config{Audience: testAudience, ServiceAccount: testAccount, Issuer: iss.Iss()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(context.Background(), bearer(mint(t, iss, nil))); err != nil {
			t.Fatal(err)
		}
	})
	for _, issuer := range []string{"https://accounts.google.com", "accounts.google.com"} {
		t.Run("Google issuer "+issuer, func(t *testing.T) {
			t.Parallel()
			google := startIssuer(t, oidclocal.Options{Issuer: issuer})
			v := googleVerifier(t, google)
			if v.Local() {
				t.Error("a verifier without PUSH_ISSUER reports itself local")
			}
			id, err := v.Verify(context.Background(), bearer(mint(t, google, nil)))
			if err != nil {
				t.Fatal(err)
			}
			if id.Issuer != issuer {
				t.Errorf("issuer %q, want %q", id.Issuer, issuer)
			}
		})
	}
}

// Every token the verifier must refuse, each with real signatures, against both the local
// and the production (Google) configuration.
func TestVerifyRefuses(t *testing.T) {
	t.Parallel()
	type tokenFunc func(t *testing.T, iss *oidclocal.Server) string
	// The classic confusion attack: HMAC keyed with the issuer's public key, as PEM or as
	// the published key set.
	hs256 := func(withKeySet bool) tokenFunc {
		return func(t *testing.T, iss *oidclocal.Server) string {
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: publicKeyDER(t, iss)})
			if withKeySet {
				resp, err := http.Get(iss.JWKSURL())
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				secret, _ = io.ReadAll(resp.Body)
			}
			signed := b64(map[string]string{"alg": "HS256", "typ": "JWT", "kid": iss.KeyID()}) + "." + b64(iss.Claims(testAudience, testAccount))
			m := hmac.New(sha256.New, secret)
			m.Write([]byte(signed))
			return signed + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
	}
	tests := []struct {
		name  string
		token tokenFunc
		auth  string // a raw Authorization header instead of a bearer token
		want  error
	}{
		{name: "no token", auth: "-", want: push.ErrUnauthenticated},
		{name: "basic auth", auth: "Basic cHVzaDpwdXNo", want: push.ErrUnauthenticated},
		{name: "empty bearer", auth: "Bearer ", want: push.ErrUnauthenticated},
		{name: "not a JWT", auth: "Bearer opaque-access-token", want: push.ErrUnauthenticated},
		{name: "expired", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.IssuedAt -= 7200; c.Expiry = time.Now().Add(-time.Minute).Unix() })
		}},
		{name: "no expiry", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.Expiry = 0 })
		}},
		{name: "another audience", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.Audience = "https://someone-else.example/push" })
		}},
		{name: "another issuer", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.Issuer = "https://issuer.example" })
		}},
		{name: "another account", want: push.ErrForbidden, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.Email = "intruder@other-project.iam.gserviceaccount.com" })
		}},
		{name: "no email", want: push.ErrForbidden, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.Email = "" })
		}},
		{name: "email not verified", want: push.ErrForbidden, token: func(t *testing.T, iss *oidclocal.Server) string {
			return mint(t, iss, func(c *oidclocal.Claims) { c.EmailVerified = false })
		}},
		{name: "bad signature (payload changed after signing)", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			parts := strings.Split(mint(t, iss, func(c *oidclocal.Claims) { c.Email = "intruder@x.iam.gserviceaccount.com" }), ".")
			parts[1] = b64(iss.Claims(testAudience, testAccount))
			return strings.Join(parts, ".")
		}},
		{name: "signed by another key under the trusted kid", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return signWithKey(t, iss.KeyID(), iss.Claims(testAudience, testAccount))
		}},
		{name: "unknown key", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return signWithKey(t, "not-a-published-kid", iss.Claims(testAudience, testAccount))
		}},
		{name: "alg none", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return b64(map[string]string{"alg": "none", "typ": "JWT"}) + "." + b64(iss.Claims(testAudience, testAccount)) + "."
		}},
		{name: "HS256 keyed with the PEM public key", want: push.ErrUnauthenticated, token: hs256(false)},
		{name: "HS256 keyed with the key set", want: push.ErrUnauthenticated, token: hs256(true)},
		{name: "ES256 with a short signature", want: push.ErrUnauthenticated, token: func(t *testing.T, iss *oidclocal.Server) string {
			return b64(map[string]string{"alg": "ES256", "typ": "JWT", "kid": iss.KeyID()}) + "." + b64(iss.Claims(testAudience, testAccount)) + ".AAAA"
		}},
	}
	for _, mode := range []string{"local", "google"} {
		iss := startIssuer(t, oidclocal.Options{})
		v := localVerifier(t, iss)
		if mode == "google" {
			iss = startIssuer(t, oidclocal.Options{Issuer: "https://accounts.google.com"})
			v = googleVerifier(t, iss)
		}
		for _, tc := range tests {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := bearer("")
				var tok string
				switch {
				case tc.token != nil:
					tok = tc.token(t, iss)
					r.Header.Set("Authorization", "Bearer "+tok)
				case tc.auth != "-":
					r.Header.Set("Authorization", tc.auth)
				}
				id, err := v.Verify(context.Background(), r)
				if !errors.Is(err, tc.want) {
					t.Fatalf("Verify = %+v, %v; want %v", id, err, tc.want)
				}
				if tok != "" {
					for _, part := range strings.Split(tok, ".") {
						if len(part) > 8 && strings.Contains(err.Error(), part) {
							t.Errorf("error %q quotes the token", err)
						}
					}
				}
			})
		}
	}
}

func publicKeyDER(t *testing.T, iss *oidclocal.Server) []byte {
	t.Helper()
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(set.Keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestVerifyKeysUnavailable(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t, oidclocal.Options{})
	v := localVerifier(t, iss)
	tok := mint(t, iss, nil)
	if err := iss.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), bearer(tok))
	if !errors.Is(err, push.ErrKeysUnavailable) {
		t.Fatalf("Verify with the issuer down = %v; want ErrKeysUnavailable (a retryable outage, not a bad token)", err)
	}

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(broken.Close)
	v, err = push.NewVerifier(context.Background(), push.Config{Audience: testAudience, ServiceAccount: testAccount,
		Issuer: iss.Iss(), JWKSURL: broken.URL + "/jwks"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), bearer(tok)); !errors.Is(err, push.ErrKeysUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Verify with the key set answering 503 = %v; want ErrKeysUnavailable naming the status", err)
	}
}

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t, oidclocal.Options{})
	wrongDoc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"issuer": "https://elsewhere.example", "jwks_uri": "https://elsewhere.example/jwks"}`)
	}))
	t.Cleanup(wrongDoc.Close)
	tests := []struct {
		name string
		cfg  push.Config
		want string
	}{
		{"no audience", push.Config{ServiceAccount: testAccount}, "PUSH_AUDIENCE is empty"},
		{"no account", push.Config{Audience: testAudience}, "PUSH_SERVICE_ACCOUNT is empty"},
		{"key set without issuer", push.Config{Audience: testAudience, ServiceAccount: testAccount, JWKSURL: iss.JWKSURL()}, "without PUSH_ISSUER"},
		{"local issuer posing as Google", push.Config{Audience: testAudience, ServiceAccount: testAccount,
			Issuer: "https://accounts.google.com", JWKSURL: iss.JWKSURL()}, "Google's issuer"},
		{"key set not a URL", push.Config{Audience: testAudience, ServiceAccount: testAccount, Issuer: iss.Iss(), JWKSURL: "jwks.json"}, "not an http(s) URL"},
		{"discovery unreachable", push.Config{Audience: testAudience, ServiceAccount: testAccount, Issuer: "http://127.0.0.1:1"}, "or set PUSH_JWKS_URL"},
		{"discovery names another issuer", push.Config{Audience: testAudience, ServiceAccount: testAccount, Issuer: wrongDoc.URL}, `names issuer "https://elsewhere.example"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, err := push.NewVerifier(context.Background(), tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewVerifier = %v, %v; want an error saying %q", v, err, tc.want)
			}
		})
	}
}
