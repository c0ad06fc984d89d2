// Package pushbridge plays Pub/Sub's push delivery on the local stack, where the embedded
// emulator (pstest) only serves pulls: for every push subscription it pulls the messages
// and POSTs each one to the subscription's push endpoint exactly as Pub/Sub does, with the
// wrapped JSON envelope and an OIDC token of the subscription's service account for its
// audience, signed by a local issuer the consumers are configured to trust. It settles by
// the answer as Pub/Sub does: a 2xx acknowledges the message; anything else hands it back
// after the subscription's retry back-off (the emulator would redeliver at once), and the
// subscription's dead-letter policy applies as for any nack.
package pushbridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"

	"github.com/nba-props/pipeline/infra/oidclocal"
)

// Options configure a Bridge. PubSub and Issuer are required.
type Options struct {
	PubSub *pubsub.Client
	Issuer *oidclocal.Issuer
	// InFlight bounds the pushes of one subscription in flight at once (Pub/Sub's push
	// flow control); 0 means 16.
	InFlight int
	// HTTP sends the pushes; nil means a client without a timeout of its own (each push is
	// bounded by its subscription's ack deadline).
	HTTP   *http.Client
	Logger *slog.Logger
	// ReconcileURL, when set, is POSTed every ReconcileEvery (default a minute) with a
	// token of ServiceAccount for Audience, as Cloud Scheduler calls a push service's
	// reconcile endpoint in production.
	ReconcileURL, Audience, ServiceAccount string
	ReconcileEvery                         time.Duration
}

// Bridge pushes the messages of every push subscription of a project.
type Bridge struct {
	o Options
}

// New checks the options.
func New(o Options) (*Bridge, error) {
	if o.PubSub == nil || o.Issuer == nil {
		return nil, errors.New("pushbridge: Options.PubSub and Options.Issuer are required")
	}
	if o.InFlight <= 0 {
		o.InFlight = 16
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReconcileEvery <= 0 {
		o.ReconcileEvery = time.Minute
	}
	return &Bridge{o: o}, nil
}

// Run pushes until ctx ends. It reads the push subscriptions once, at start: apply the
// topology (with push) before it.
func (b *Bridge) Run(ctx context.Context) error {
	subs, err := b.pushSubscriptions(ctx)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		return errors.New("pushbridge: the project has no push subscription: apply the topology with push endpoints")
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, s := range subs {
		g.Go(func() error { return b.serve(gctx, s) })
	}
	if b.o.ReconcileURL != "" {
		g.Go(func() error { b.reconcileEvery(gctx); return nil })
	}
	return g.Wait()
}

// reconcileEvery calls the reconcile endpoint until ctx ends.
func (b *Bridge) reconcileEvery(ctx context.Context) {
	t := time.NewTicker(b.o.ReconcileEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		status, err := b.post(ctx, b.o.ReconcileURL, b.o.Audience, b.o.ServiceAccount, nil, time.Minute)
		if err != nil || status/100 != 2 {
			b.o.Logger.Warn("reconcile call failed", "url", b.o.ReconcileURL, "status", status, "err", errString(err))
		}
	}
}

func (b *Bridge) pushSubscriptions(ctx context.Context) ([]*pubsubpb.Subscription, error) {
	var out []*pubsubpb.Subscription
	it := b.o.PubSub.SubscriptionAdminClient.ListSubscriptions(ctx, &pubsubpb.ListSubscriptionsRequest{
		Project: "projects/" + b.o.PubSub.Project()})
	for {
		s, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pushbridge: list subscriptions: %w", err)
		}
		if s.GetPushConfig().GetPushEndpoint() != "" {
			out = append(out, s)
		}
	}
}

// serve pulls one subscription and pushes what it receives.
func (b *Bridge) serve(ctx context.Context, s *pubsubpb.Subscription) error {
	sub := b.o.PubSub.Subscriber(s.Name)
	sub.ReceiveSettings.MaxOutstandingMessages = b.o.InFlight
	sub.ReceiveSettings.NumGoroutines = 2
	deadline := time.Duration(s.AckDeadlineSeconds) * time.Second
	err := sub.Receive(ctx, func(mctx context.Context, m *pubsub.Message) {
		status, err := b.push(context.WithoutCancel(mctx), s, m, deadline)
		if err == nil && status/100 == 2 {
			m.Ack()
			return
		}
		attempt := 0
		if m.DeliveryAttempt != nil {
			attempt = *m.DeliveryAttempt
		}
		wait := backoff(s.GetRetryPolicy(), attempt, status)
		b.o.Logger.Debug("push not acknowledged", "subscription", s.Name, "message_id", m.ID, "status", status,
			"err", errString(err), "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-mctx.Done():
		}
		m.Nack()
	})
	if err != nil {
		return fmt.Errorf("pushbridge: %s: %w", s.Name, err)
	}
	return nil
}

// envelope is the wrapped push body as Pub/Sub sends it (both spellings of the message id
// and publish time, as Pub/Sub does).
type envelope struct {
	Message struct {
		Data        string            `json:"data"`
		Attributes  map[string]string `json:"attributes,omitempty"`
		MessageID   string            `json:"messageId"`
		MessageID2  string            `json:"message_id"`
		PublishTime string            `json:"publishTime"`
		PublishTim2 string            `json:"publish_time"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt int    `json:"deliveryAttempt,omitempty"`
}

// push POSTs one message and returns the answer's status.
func (b *Bridge) push(ctx context.Context, s *pubsubpb.Subscription, m *pubsub.Message, deadline time.Duration) (int, error) {
	var e envelope
	e.Message.Data = base64.StdEncoding.EncodeToString(m.Data)
	e.Message.Attributes = m.Attributes
	e.Message.MessageID, e.Message.MessageID2 = m.ID, m.ID
	pt := m.PublishTime.UTC().Format(time.RFC3339Nano)
	e.Message.PublishTime, e.Message.PublishTim2 = pt, pt
	e.Subscription = s.Name
	if m.DeliveryAttempt != nil {
		e.DeliveryAttempt = *m.DeliveryAttempt
	}
	body, err := json.Marshal(e)
	if err != nil {
		return 0, err
	}
	oidc := s.GetPushConfig().GetOidcToken()
	return b.post(ctx, s.GetPushConfig().GetPushEndpoint(), oidc.GetAudience(), oidc.GetServiceAccountEmail(), body, deadline)
}

// post sends body to url with a token of account for audience, within deadline, and
// returns the answer's status.
func (b *Bridge) post(ctx context.Context, url, audience, account string, body []byte, deadline time.Duration) (int, error) {
	token, err := b.o.Issuer.Token(audience, account)
	if err != nil {
		return 0, err
	}
	if deadline <= 0 {
		deadline = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)")
	resp, err := b.o.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// backoff is how long a message the endpoint did not take waits before it is handed back:
// the retry policy's exponential back-off from the delivery attempt, or a short pause for
// an instance at its concurrency bound (429), whose slot frees soon.
func backoff(p *pubsubpb.RetryPolicy, attempt, status int) time.Duration {
	if status == http.StatusTooManyRequests {
		return 500 * time.Millisecond
	}
	lo, hi := 10*time.Second, 600*time.Second
	if p != nil {
		lo, hi = p.GetMinimumBackoff().AsDuration(), p.GetMaximumBackoff().AsDuration()
	}
	d := lo
	for i := 1; i < attempt && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
