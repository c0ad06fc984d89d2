// Package oidclocal is a local OpenID Connect issuer that stands in for Google when Pub/Sub
// push is run locally: it signs ID tokens shaped like the ones Pub/Sub sends with a push
// (RS256, aud, iss, email, email_verified, one hour of validity) and publishes its keys, so
// the push endpoint's verifier (package push) checks them exactly as it checks Google's,
// only against these keys. The key is generated at start and never written anywhere;
// tokens of one run are worthless to the next.
//
// It serves:
//
//	GET /.well-known/openid-configuration   the discovery document (issuer, jwks_uri)
//	GET /jwks                               the public key set (JWKS)
//	GET /token?audience=A&email=E           a signed token, as the metadata server's
//	                                        identity endpoint returns one (for curl)
//
// It is for the local stack and tests only: a verifier trusts it only when it is
// configured with its issuer (PUSH_ISSUER), never by default.
package oidclocal

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DefaultLifetime is how long a minted token is valid: Google's ID tokens live one hour.
const DefaultLifetime = time.Hour

// Paths the issuer serves.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/jwks"
	TokenPath     = "/token"
)

// keysMaxAge is the Cache-Control max-age of the key set. A verifier caches the keys this
// long; an issuer restarted with a new key is trusted again after at most this.
const keysMaxAge = 60

// Options configure an Issuer.
type Options struct {
	// Issuer is the iss claim of the tokens it mints; "" means the URL it is served at.
	Issuer string
	// Lifetime is how long a minted token is valid; 0 means DefaultLifetime.
	Lifetime time.Duration
	// Now is the clock of iat and exp; nil means time.Now.
	Now func() time.Time
}

// Issuer holds a signing key and mints ID tokens with it. Its Handler publishes the keys.
type Issuer struct {
	url    string
	opts   Options
	key    *rsa.PrivateKey
	kid    string
	signer jose.Signer
}

// New generates an RSA key for an issuer served at baseURL (scheme, host and port, no
// trailing slash), for callers that mount Handler in a server of their own; Start listens
// by itself.
func New(baseURL string, opts Options) (*Issuer, error) {
	baseURL = strings.TrimSuffix(baseURL, "/")
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("oidclocal: base URL %q: want http://host:port", baseURL)
	}
	if opts.Issuer == "" {
		opts.Issuer = baseURL
	}
	if opts.Lifetime == 0 {
		opts.Lifetime = DefaultLifetime
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidclocal: generating the signing key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &key.PublicKey}
	thumb, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("oidclocal: key thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("oidclocal: signer: %w", err)
	}
	return &Issuer{url: baseURL, opts: opts, key: key, kid: kid, signer: signer}, nil
}

// URL is where the issuer is served.
func (i *Issuer) URL() string { return i.url }

// Iss is the iss claim of the tokens it mints (PUSH_ISSUER of a verifier that trusts it).
func (i *Issuer) Iss() string { return i.opts.Issuer }

// JWKSURL is the address of its key set (PUSH_JWKS_URL).
func (i *Issuer) JWKSURL() string { return i.url + JWKSPath }

// KeyID is the kid of its signing key, in every token's header and in the key set.
func (i *Issuer) KeyID() string { return i.kid }

// Claims are the claims of an ID token as Google signs them for a push: who (email,
// email_verified, sub), for whom (aud) and until when (exp).
type Claims struct {
	Issuer          string `json:"iss"`
	Audience        string `json:"aud"`
	Subject         string `json:"sub"`
	AuthorizedParty string `json:"azp,omitempty"`
	Email           string `json:"email,omitempty"`
	EmailVerified   bool   `json:"email_verified"`
	IssuedAt        int64  `json:"iat"`
	Expiry          int64  `json:"exp"`
}

// Claims returns the claims of a token for (audience, email) as Pub/Sub would send it:
// this issuer, email_verified true, issued now, valid for the lifetime. Tests change a
// field and Sign the result to make the tokens a verifier must refuse.
func (i *Issuer) Claims(audience, email string) Claims {
	now := i.opts.Now()
	sub := subject(email)
	return Claims{
		Issuer: i.opts.Issuer, Audience: audience, Subject: sub, AuthorizedParty: sub,
		Email: email, EmailVerified: true,
		IssuedAt: now.Unix(), Expiry: now.Add(i.opts.Lifetime).Unix(),
	}
}

// Sign signs c with the issuer's key (RS256, its kid) and returns the compact JWT.
func (i *Issuer) Sign(c Claims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := i.signer.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("oidclocal: signing: %w", err)
	}
	return jws.CompactSerialize()
}

// Token mints a token for (audience, email) with the defaults of Claims.
func (i *Issuer) Token(audience, email string) (string, error) {
	return i.Sign(i.Claims(audience, email))
}

// subject stands in for the numeric unique ID Google gives an account: stable per email.
func subject(email string) string {
	h := sha256.Sum256([]byte(email))
	return strconv.FormatUint(binary.BigEndian.Uint64(h[:8])>>1, 10)
}

// Handler serves the discovery document, the key set and the token endpoint.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                i.opts.Issuer,
			"jwks_uri":                              i.JWKSURL(),
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"claims_supported":                      []string{"aud", "email", "email_verified", "exp", "iat", "iss", "sub", "azp"},
		})
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", keysMaxAge))
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	mux.HandleFunc("GET "+TokenPath, func(w http.ResponseWriter, r *http.Request) {
		aud, email := r.URL.Query().Get("audience"), r.URL.Query().Get("email")
		if aud == "" || email == "" {
			http.Error(w, "oidclocal: want ?audience=<push endpoint audience>&email=<push service account>", http.StatusBadRequest)
			return
		}
		tok, err := i.Token(aud, email)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(tok))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// Server is an Issuer listening on its own port.
type Server struct {
	*Issuer
	srv      *http.Server
	done     chan error
	close    sync.Once
	closeErr error
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves a new issuer there
// until Close. The issuer's URL is http://<the address it got>.
func Start(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("oidclocal: listen %s: %w", addr, err)
	}
	iss, err := New("http://"+ln.Addr().String(), opts)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	s := &Server{Issuer: iss, srv: &http.Server{Handler: iss.Handler(), ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() { s.done <- s.srv.Serve(ln) }()
	return s, nil
}

// Close stops the server; later calls return the first one's result.
func (s *Server) Close() error {
	s.close.Do(func() {
		s.closeErr = s.srv.Close()
		if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
			s.closeErr = errors.Join(s.closeErr, err)
		}
	})
	return s.closeErr
}
