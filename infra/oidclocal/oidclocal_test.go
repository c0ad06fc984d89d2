package oidclocal_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/infra/oidclocal"
)

func start(t *testing.T, opts oidclocal.Options) *oidclocal.Server {
	t.Helper()
	s, err := oidclocal.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// A token fetched from the token endpoint verifies against the key set the discovery
// document points to, with the claims of a Pub/Sub push token.
func TestTokenVerifiesAgainstPublishedKeys(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	s := start(t, oidclocal.Options{Now: func() time.Time { return now }})

	_, body := get(t, s.URL()+oidclocal.DiscoveryPath)
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &disc); err != nil {
		t.Fatalf("discovery document %s: %v", body, err)
	}
	if disc.Issuer != s.URL() || disc.JWKSURI != s.JWKSURL() {
		t.Fatalf("discovery = %+v; want issuer %s and jwks_uri %s", disc, s.URL(), s.JWKSURL())
	}

	resp, body := get(t, disc.JWKSURI)
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("key set Cache-Control %q has no max-age: a verifier would fetch the keys for every token", cc)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatalf("key set %s: %v", body, err)
	}
	keys := set.Key(s.KeyID())
	if len(keys) != 1 || !keys[0].IsPublic() || keys[0].Algorithm != "RS256" {
		t.Fatalf("key set %s: want one public RS256 key with kid %s", body, s.KeyID())
	}

	q := url.Values{"audience": {"https://consumer.example/push"}, "email": {"push@p.iam.gserviceaccount.com"}}
	resp, tok := get(t, s.URL()+oidclocal.TokenPath+"?"+q.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %s %s", resp.Status, tok)
	}
	jws, err := jose.ParseSigned(string(tok), []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if kid := jws.Signatures[0].Header.KeyID; kid != s.KeyID() {
		t.Errorf("token kid %q, want %q", kid, s.KeyID())
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("token does not verify with the published key: %v", err)
	}
	var got oidclocal.Claims
	if err := json.Unmarshal(payload, &got); err != nil {
		t.Fatal(err)
	}
	want := oidclocal.Claims{
		Issuer: s.URL(), Audience: "https://consumer.example/push", Subject: got.Subject, AuthorizedParty: got.Subject,
		Email: "push@p.iam.gserviceaccount.com", EmailVerified: true,
		IssuedAt: now.Unix(), Expiry: now.Add(time.Hour).Unix(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
	if got.Subject == "" {
		t.Error("token has no sub")
	}
}

func TestConfiguredIssuer(t *testing.T) {
	t.Parallel()
	s := start(t, oidclocal.Options{Issuer: "https://accounts.google.com", Lifetime: time.Minute})
	c := s.Claims("aud", "a@b")
	if c.Issuer != "https://accounts.google.com" || c.Expiry-c.IssuedAt != 60 {
		t.Errorf("claims %+v: want iss https://accounts.google.com and a one-minute lifetime", c)
	}
	_, body := get(t, s.URL()+oidclocal.DiscoveryPath)
	if !strings.Contains(string(body), `"issuer":"https://accounts.google.com"`) {
		t.Errorf("discovery %s does not name the configured issuer", body)
	}
}

func TestTokenEndpointWantsAudienceAndEmail(t *testing.T) {
	t.Parallel()
	s := start(t, oidclocal.Options{})
	for _, q := range []string{"", "?audience=a", "?email=e"} {
		resp, body := get(t, s.URL()+oidclocal.TokenPath+q)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "audience=") {
			t.Errorf("GET %s%s = %s %q; want 400 saying what to pass", oidclocal.TokenPath, q, resp.Status, body)
		}
	}
}

func TestEachIssuerHasItsOwnKey(t *testing.T) {
	t.Parallel()
	a, b := start(t, oidclocal.Options{}), start(t, oidclocal.Options{})
	if a.KeyID() == b.KeyID() {
		t.Fatal("two issuers share a key")
	}
}

func TestNewRefusesABaseURLWithoutScheme(t *testing.T) {
	t.Parallel()
	if _, err := oidclocal.New("127.0.0.1:9000", oidclocal.Options{}); err == nil || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("New without a scheme: %v; want an error asking for http://host:port", err)
	}
}
