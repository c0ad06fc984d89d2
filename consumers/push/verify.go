package push

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"
)

// Config is the push endpoint's part of the consumer environment (README: environment
// table); the service's configuration embeds it.
type Config struct {
	// Port is the port the push endpoint listens on; Cloud Run sets PORT. 0 picks a free
	// port (the local stack).
	Port int `env:"PORT, default=8080"`
	// Host is the address the push endpoint listens on; "" means every interface, as
	// Cloud Run needs.
	Host string `env:"PUSH_LISTEN_HOST"`
	// Audience is the aud the push subscription's OIDC token must carry: the audience set
	// on the subscription (the push endpoint URL when none is set), spelled exactly as there.
	Audience string `env:"PUSH_AUDIENCE"`
	// ServiceAccount is the email of the service account the push subscription signs its
	// tokens as. A token of any other account is refused with 403: every Google account can
	// get a Google-signed token for any audience, so the signature alone proves nothing.
	ServiceAccount string `env:"PUSH_SERVICE_ACCOUNT"`
	// Issuer, when set, trusts a local issuer (package oidclocal) instead of Google: tokens
	// must carry this iss and are checked against its keys. Never set it in production.
	Issuer string `env:"PUSH_ISSUER"`
	// JWKSURL is the local issuer's key set; "" means the jwks_uri of its discovery
	// document (<PUSH_ISSUER>/.well-known/openid-configuration). Only with PUSH_ISSUER.
	JWKSURL string `env:"PUSH_JWKS_URL"`
}

// googleIssuers are the iss values of Google-signed ID tokens; Google uses both.
var googleIssuers = []string{"https://accounts.google.com", "accounts.google.com"}

// googleCertsURL is where idtoken fetches the keys of RS256 ID tokens, the only kind
// Pub/Sub sends. With a local issuer the verifier's HTTP client answers this address with
// the local key set, so a local token goes through exactly the validation a Google one does.
const googleCertsURL = "https://www.googleapis.com/oauth2/v3/certs"

// keysTimeout bounds one fetch of the issuer's keys.
const keysTimeout = 10 * time.Second

// Verification errors. The server answers ErrUnauthenticated with 401, ErrForbidden with
// 403 and ErrKeysUnavailable with 503; each wraps a reason that never quotes the token.
var (
	// ErrUnauthenticated: no bearer token, or one that proves nothing (malformed, bad
	// signature, unknown key, expired, another audience, an untrusted issuer, an algorithm
	// other than RS256).
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: a valid token of an identity that is not the push service account
	// (another email, or an email that is not verified).
	ErrForbidden = errors.New("forbidden")
	// ErrKeysUnavailable: the issuer's keys could not be fetched. The token was not judged;
	// Pub/Sub retries the push.
	ErrKeysUnavailable = errors.New("token issuer keys unavailable")
)

// Identity is who a verified token says sent the push.
type Identity struct {
	Email   string
	Subject string
	Issuer  string
}

// Verifier checks the OIDC token Pub/Sub sends with each push: signature against the
// issuer's published keys, audience, issuer, expiry (google.golang.org/api/idtoken does the
// signature, audience and expiry), then email and email_verified.
type Verifier struct {
	validator *idtoken.Validator
	audience  string
	account   string
	issuers   []string
	local     bool
}

// NewVerifier checks c and builds a verifier. With c.Issuer empty it trusts Google; with
// it set, only that issuer, whose key set it finds at c.JWKSURL or through the issuer's
// discovery document (fetched now). client fetches keys; nil means a plain client with a
// timeout. No credentials are involved: the keys are public.
func NewVerifier(ctx context.Context, c Config, client *http.Client) (*Verifier, error) {
	switch {
	case c.Audience == "":
		return nil, errors.New("push: PUSH_AUDIENCE is empty: set it to the audience of the push subscription's " +
			"OIDC token (the push endpoint URL unless the subscription names another)")
	case c.ServiceAccount == "":
		return nil, errors.New("push: PUSH_SERVICE_ACCOUNT is empty: set it to the email of the service account " +
			"the push subscription authenticates as")
	case c.JWKSURL != "" && c.Issuer == "":
		return nil, errors.New("push: PUSH_JWKS_URL is set without PUSH_ISSUER: a local key set needs the issuer " +
			"it belongs to (unset both to trust Google)")
	case slices.Contains(googleIssuers, c.Issuer):
		return nil, fmt.Errorf("push: PUSH_ISSUER=%s is Google's issuer: leave PUSH_ISSUER and PUSH_JWKS_URL unset "+
			"to trust Google's keys; a local issuer must have an iss of its own", c.Issuer)
	}
	if client == nil {
		client = &http.Client{Timeout: keysTimeout}
	}
	base := client.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	kt := &keysTransport{base: base}
	issuers := googleIssuers
	if c.Issuer != "" {
		jwks := c.JWKSURL
		if jwks == "" {
			var err error
			if jwks, err = discoverJWKS(ctx, &http.Client{Transport: base, Timeout: client.Timeout}, c.Issuer); err != nil {
				return nil, err
			}
		}
		u, err := url.Parse(jwks)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("push: PUSH_JWKS_URL %q is not an http(s) URL", jwks)
		}
		kt.local = u
		issuers = []string{c.Issuer}
	}
	hc := *client
	hc.Transport = kt
	v, err := idtoken.NewValidator(ctx, option.WithHTTPClient(&hc))
	if err != nil {
		return nil, fmt.Errorf("push: token validator: %w", err)
	}
	return &Verifier{validator: v, audience: c.Audience, account: c.ServiceAccount, issuers: issuers, local: c.Issuer != ""}, nil
}

// Local reports whether the verifier trusts a local issuer instead of Google (the service
// logs it at start).
func (v *Verifier) Local() bool { return v.local }

// Issuers are the iss values the verifier accepts.
func (v *Verifier) Issuers() []string { return slices.Clone(v.issuers) }

// Verify checks the request's "Authorization: Bearer <token>". The error wraps
// ErrUnauthenticated, ErrForbidden or ErrKeysUnavailable with the reason; neither the
// error nor anything else here contains the token.
func (v *Verifier) Verify(ctx context.Context, r *http.Request) (Identity, error) {
	auth := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(auth, " ")
	if auth == "" {
		return Identity{}, fmt.Errorf("%w: no Authorization header; the push subscription must send an OIDC token", ErrUnauthenticated)
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return Identity{}, fmt.Errorf("%w: the Authorization header is not \"Bearer <token>\"", ErrUnauthenticated)
	}
	tok = strings.TrimSpace(tok)
	// Pub/Sub signs with RS256. idtoken would also take ES256, checked against the keys of
	// Identity-Aware Proxy, which sign no push, and it panics on an ES256 token with a short
	// signature under one of those public kids (googleapis/google-api-go-client#3668).
	// Refusing every other algorithm first keeps "none", HMAC and that path out of reach.
	if alg, err := tokenAlgorithm(tok); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	} else if alg != "RS256" {
		return Identity{}, fmt.Errorf("%w: token algorithm %q; push tokens are RS256", ErrUnauthenticated, alg)
	}
	p, err := v.validator.Validate(ctx, tok, v.audience)
	if err != nil {
		if ke := (*keysError)(nil); errors.As(err, &ke) {
			return Identity{}, fmt.Errorf("%w: %v", ErrKeysUnavailable, ke)
		}
		return Identity{}, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if !slices.Contains(v.issuers, p.Issuer) {
		return Identity{}, fmt.Errorf("%w: token issuer %q is not trusted (want %s)", ErrUnauthenticated, p.Issuer, strings.Join(v.issuers, " or "))
	}
	id := Identity{Issuer: p.Issuer, Subject: p.Subject}
	id.Email, _ = p.Claims["email"].(string)
	if id.Email != v.account {
		return id, fmt.Errorf("%w: token of %q, not the push service account %s", ErrForbidden, id.Email, v.account)
	}
	if verified, _ := p.Claims["email_verified"].(bool); !verified {
		return id, fmt.Errorf("%w: token email %s is not verified (email_verified is not true)", ErrForbidden, id.Email)
	}
	return id, nil
}

// tokenAlgorithm reads the alg of a compact JWT's header; Validate checks the rest.
func tokenAlgorithm(tok string) (string, error) {
	head, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "", errors.New("the bearer token is not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "", errors.New("the bearer token's header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return "", errors.New("the bearer token's header is not JSON")
	}
	return h.Alg, nil
}

// keysTransport fetches the issuer's keys for idtoken. It turns a failed fetch into a
// keysError, so that an outage of the key endpoint is told apart from a bad token; with a
// local issuer it answers Google's key address with the local key set and fetches nothing
// else.
type keysTransport struct {
	base  http.RoundTripper
	local *url.URL
}

// keysError is a failed fetch of the issuer's keys.
type keysError struct {
	url string
	err error
}

func (e *keysError) Error() string { return fmt.Sprintf("fetching %s: %v", e.url, e.err) }
func (e *keysError) Unwrap() error { return e.err }

func (t *keysTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.local != nil {
		if r.URL.String() != googleCertsURL {
			return nil, fmt.Errorf("the local issuer's keys stand in for %s only; not fetching %s", googleCertsURL, r.URL)
		}
		r = r.Clone(r.Context())
		r.URL, r.Host = t.local, ""
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, &keysError{url: r.URL.String(), err: err}
	}
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		_ = resp.Body.Close()
		return nil, &keysError{url: r.URL.String(), err: fmt.Errorf("status %s", resp.Status)}
	}
	return resp, nil
}

// discoverJWKS reads the jwks_uri of an issuer's OpenID discovery document, which must
// name the same issuer.
func discoverJWKS(ctx context.Context, client *http.Client, issuer string) (string, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	fail := func(format string, args ...any) (string, error) {
		return "", fmt.Errorf("push: PUSH_ISSUER=%s: discovery document %s: %s (or set PUSH_JWKS_URL)", issuer, u, fmt.Sprintf(format, args...))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fail("%v", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail("%v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("status %s", resp.Status)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&doc); err != nil {
		return fail("not JSON: %v", err)
	}
	if doc.Issuer != issuer {
		return fail("it names issuer %q", doc.Issuer)
	}
	if doc.JWKSURI == "" {
		return fail("no jwks_uri")
	}
	return doc.JWKSURI, nil
}
