package push_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/infra/oidclocal"
)

const (
	testAudience = "https://consumers-raw-abc123-uc.a.run.app/push"
	testAccount  = "pubsub-push@nba-props.iam.gserviceaccount.com"
)

func startIssuer(t testing.TB, opts oidclocal.Options) *oidclocal.Server {
	t.Helper()
	s, err := oidclocal.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// localVerifier trusts iss the way the local stack does (PUSH_ISSUER, PUSH_JWKS_URL).
func localVerifier(t testing.TB, iss *oidclocal.Server) *push.Verifier {
	t.Helper()
	v, err := push.NewVerifier(context.Background(), push.Config{
		Audience: testAudience, ServiceAccount: testAccount, Issuer: iss.Iss(), JWKSURL: iss.JWKSURL(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// googleVerifier is a production verifier (no PUSH_ISSUER) whose network reaches iss
// instead of www.googleapis.com: iss plays Google, signing with iss = accounts.google.com.
func googleVerifier(t testing.TB, iss *oidclocal.Server) *push.Verifier {
	t.Helper()
	jwks, err := url.Parse(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: googleNetwork{jwks: jwks}}
	v, err := push.NewVerifier(context.Background(), push.Config{Audience: testAudience, ServiceAccount: testAccount}, client)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// googleNetwork answers Google's key addresses, for RS256 ID tokens and for ES256
// Identity-Aware Proxy tokens, with the local issuer's keys, so that a forged ES256 token
// naming the issuer's kid reaches idtoken's ES256 check if the verifier lets it through.
type googleNetwork struct{ jwks *url.URL }

func (g googleNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	switch r.URL.String() {
	case "https://www.googleapis.com/oauth2/v3/certs", "https://www.gstatic.com/iap/verify/public_key-jwk":
	default:
		return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Request: r}, nil
	}
	r = r.Clone(r.Context())
	r.URL = g.jwks
	r.Host = ""
	return http.DefaultTransport.RoundTrip(r)
}

func mint(t testing.TB, iss *oidclocal.Server, edit func(*oidclocal.Claims)) string {
	t.Helper()
	c := iss.Claims(testAudience, testAccount)
	if edit != nil {
		edit(&c)
	}
	tok, err := iss.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signWithKey signs claims with a key of the test's own under the given kid: a forgery
// that names the trusted key.
func signWithKey(t testing.TB, kid string, c oidclocal.Claims) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
