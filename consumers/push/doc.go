// Package push feeds the consumer runtime from Pub/Sub push subscriptions, so that a
// consumer can run as a Cloud Run service that scales with its backlog instead of holding
// streaming-pull connections open. It is the second transport beside streaming pull: both
// build a runner.Delivery, call the runtime's Deliver and carry out the Settlement it
// returns; neither decides on its own whether a message is acked.
//
// # How a push is handled
//
// Each job subscription (<topic>.<job>) pushes to its own path, and each phase's catch-all
// (<topic>.unroutable) to the phase's:
//
//	POST /push/<phase>/<job>          JobPath: the job's subscription
//	POST /push/<phase>/unroutable     UnroutablePath: the phase's catch-all
//	GET  /healthz                     the process is alive (200)
//	GET  /readyz                      its clients answer (200), or 503 with the reason
//
// For a push the server, in order: finds the endpoint (404 if this instance does not serve
// it); verifies the OIDC token (Verifier); refuses new work once shutdown has begun;
// decodes the request (DecodeRequest); takes a slot of the job's concurrency bound; calls
// Deliver with the delivery's Subscription set to the endpoint's subscription; answers.
// The path decides the subscription, not the envelope: the endpoint URL is part of the
// subscription's push configuration, so it says which job the request is for; an envelope
// naming another subscription is delivered as the endpoint's and logged.
//
// # Status mapping
//
// Pub/Sub acks a push on 102, 200, 201, 202 or 204 and redelivers on anything else, with
// the subscription's retry policy (exponential backoff), dead-lettering after its
// MaxDeliveryAttempts. It adjusts its push rate to the rate of success answers, so a 429
// at the bound, like any non-success, also slows the pushes down.
//
//	Settlement or condition                    status
//	Ack                                        204
//	Nack                                       500
//	Busy, or the job's MaxConcurrency reached  429 (at the bound: at once, Deliver not called)
//	Busy, shutting down                        503
//	shutdown begun (new push)                  503
//	shutdown grace over (Deliver still going)  503, and Deliver's context is cancelled
//	no or invalid token                        401 with WWW-Authenticate: Bearer
//	valid token of another account             403
//	issuer's keys cannot be fetched            503
//	malformed envelope                         400
//	body over MaxBodyBytes                     413
//
// A malformed envelope gets 400, not 2xx: the runtime dead-letters a bad message itself,
// with a reason, but only once it holds a decoded Delivery; an envelope that does not parse
// never reaches it, so it is left to the subscription's dead-letter policy rather than
// acknowledged and lost. A push refused before Deliver is logged by the server (without
// the token); everything Deliver sees is logged by the runtime, one line per message.
//
// # Identity
//
// Push subscriptions are created with an OIDC token: Pub/Sub signs a Google ID token
// (RS256) for the subscription's service account with the subscription's audience and
// sends it as "Authorization: Bearer <jwt>". The Verifier checks, with
// google.golang.org/api/idtoken, the signature against Google's published keys, the
// audience and the expiry; then the issuer (https://accounts.google.com or
// accounts.google.com), the email (the push service account) and email_verified. Any
// Google account can obtain a Google-signed token for any audience, so the email check is
// what makes the endpoint private. Only RS256 is accepted. The service still runs with
// Cloud Run's own authentication (--no-allow-unauthenticated, the push service account
// holding roles/run.invoker); this check does not rely on it.
//
// Locally there is no Google: package oidclocal is an issuer with a key of its own. With
// PUSH_ISSUER set, the Verifier trusts that issuer only, fetching its key set where idtoken
// would fetch Google's, so a local token passes through the same code as a production one.
//
// # Configuration
//
//	CONSUMER_MODE=pull|push    the service's transport (pull by default)
//	PORT                       listen port, 8080 by default (Cloud Run sets it)
//	PUSH_AUDIENCE              required in push mode: the subscriptions' token audience
//	PUSH_SERVICE_ACCOUNT       required in push mode: the subscriptions' service account
//	PUSH_ISSUER                local only: trust this issuer instead of Google
//	PUSH_JWKS_URL              local only: its key set (default: from its discovery document)
//	CONSUMER_SHUTDOWN_GRACE    how long deliveries in flight may finish after SIGTERM (8s)
//
// # Wrapped and unwrapped pushes
//
// A subscription pushes the JSON envelope (wrapped, the default, and what the topology
// should configure) or, with payload unwrapping, the message data as the body. An
// unwrapped subscription must enable write metadata: the message id, publish time and
// subscription then arrive in x-goog-pubsub-* headers and each attribute as a header of its
// own name. HTTP header names are case-insensitive, so attribute names arrive lower-cased,
// and an attribute named like an HTTP header (Content-Type, User-Agent, ...) is not read;
// the wrapped form has neither limit. Pub/Sub documents no delivery attempt header for an
// unwrapped push, so DeliveryAttempt is then 0; the runtime counts runs in its ledger.
package push
