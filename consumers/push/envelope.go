package push

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/runner"
)

// MaxBodyBytes bounds what DecodeRequest reads. A Pub/Sub message's data is at most 10 MB,
// which base64 in the wrapped envelope grows by a third; anything larger is not a push.
const MaxBodyBytes = 16 << 20

// ErrMalformed marks a request that is not a Pub/Sub push: bad JSON, bad base64, no
// message, a field that does not parse. The server answers it with 400.
//
// Why 400 and not 2xx: the runtime dead-letters a bad message itself, with a reason, but
// only once it holds a decoded Delivery; an envelope that does not even parse never
// reaches it. Acknowledging it would drop it without a trace, so it is refused, Pub/Sub
// redelivers it with the subscription's backoff and, after its MaxDeliveryAttempts,
// moves it to the dead-letter topic through the subscription's own dead-letter policy.
var ErrMalformed = errors.New("malformed push request")

// ErrTooLarge marks a body over MaxBodyBytes; the server answers 413.
var ErrTooLarge = errors.New("push request body too large")

// The metadata headers of an unwrapped push (a subscription with payload unwrapping and
// write metadata). Pub/Sub documents the first four; the delivery attempt follows the same
// x-goog-pubsub-<key> pattern and is read when present (it is 0 otherwise, which the
// runtime accepts: it counts runs in its ledger, not deliveries).
const (
	HeaderSubscription    = "X-Goog-Pubsub-Subscription-Name"
	HeaderMessageID       = "X-Goog-Pubsub-Message-Id"
	HeaderPublishTime     = "X-Goog-Pubsub-Publish-Time"
	HeaderOrderingKey     = "X-Goog-Pubsub-Ordering-Key"
	HeaderDeliveryAttempt = "X-Goog-Pubsub-Delivery-Attempt"
)

// metadataPrefix is the prefix of every unwrapped-push metadata header (canonical form).
const metadataPrefix = "X-Goog-Pubsub-"

// transportHeaders are request headers of an unwrapped push that are HTTP's, Cloud Run's
// or the tracing's, never message attributes. Pub/Sub writes attributes as plain
// "<key>: <value>" headers, so both share one namespace: an attribute with one of these
// names cannot be told apart from the header and is not read. The pipeline's own
// attributes (messages.Attr*, googclient_traceparent) are none of them.
var transportHeaders = map[string]bool{
	"Accept":                true,
	"Accept-Encoding":       true,
	"Authorization":         true,
	"Connection":            true,
	"Content-Length":        true,
	"Content-Type":          true,
	"Forwarded":             true,
	"From":                  true,
	"Host":                  true,
	"Te":                    true,
	"Traceparent":           true,
	"Tracestate":            true,
	"Transfer-Encoding":     true,
	"Upgrade":               true,
	"User-Agent":            true,
	"Via":                   true,
	"X-Cloud-Trace-Context": true,
	"X-Forwarded-For":       true,
	"X-Forwarded-Host":      true,
	"X-Forwarded-Proto":     true,
}

// envelope is the JSON body of a wrapped push: a PubsubMessage in its JSON form plus the
// subscription and, when the subscription has a dead-letter policy, the delivery attempt.
// Pub/Sub writes the id and publish time twice, camelCase and snake_case; either is read.
type envelope struct {
	Message *struct {
		Data         *string           `json:"data"`
		Attributes   map[string]string `json:"attributes"`
		MessageID    string            `json:"messageId"`
		MessageIDOld string            `json:"message_id"`
		PublishTime  string            `json:"publishTime"`
		PublishOld   string            `json:"publish_time"`
		OrderingKey  string            `json:"orderingKey"`
	} `json:"message"`
	Subscription    string `json:"subscription"`
	DeliveryAttempt *int   `json:"deliveryAttempt"`
}

// DecodeRequest reads one push request, wrapped (the JSON envelope, Pub/Sub's default) or
// unwrapped with write metadata (the payload as the body, the metadata in
// x-goog-pubsub-* headers, each attribute as a header of its own name, lower-cased: HTTP
// header names are not case-sensitive). It tells the two apart by the message id header,
// which only an unwrapped push carries. The Delivery's Subscription is the short ID from
// the request ("" if it names none); the caller decides which subscription the delivery
// belongs to. Errors wrap ErrMalformed or ErrTooLarge and say what was wrong.
func DecodeRequest(r *http.Request) (runner.Delivery, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return runner.Delivery{}, fmt.Errorf("%w: reading the body: %v", ErrMalformed, err)
	}
	if len(body) > MaxBodyBytes {
		return runner.Delivery{}, fmt.Errorf("%w: over %d bytes", ErrTooLarge, MaxBodyBytes)
	}
	if r.Header.Get(HeaderMessageID) != "" {
		return decodeUnwrapped(r.Header, body)
	}
	return decodeWrapped(body)
}

func decodeWrapped(body []byte) (runner.Delivery, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return runner.Delivery{}, fmt.Errorf("%w: the body is not a Pub/Sub push envelope (%v); an unwrapped "+
			"subscription must enable write metadata so that the message id arrives in %s", ErrMalformed, err, HeaderMessageID)
	}
	m := env.Message
	if m == nil {
		return runner.Delivery{}, fmt.Errorf("%w: the envelope has no \"message\" object; an unwrapped subscription "+
			"must enable write metadata so that the message id arrives in %s", ErrMalformed, HeaderMessageID)
	}
	var d runner.Delivery
	var err error
	if d.ID, err = oneOf("messageId", m.MessageID, "message_id", m.MessageIDOld); err != nil {
		return runner.Delivery{}, err
	}
	if d.ID == "" {
		return runner.Delivery{}, fmt.Errorf("%w: the message has no messageId", ErrMalformed)
	}
	if m.Data != nil {
		if d.Data, err = decodeBase64(*m.Data); err != nil {
			return runner.Delivery{}, fmt.Errorf("%w: message %s: data is not base64: %v", ErrMalformed, d.ID, err)
		}
	}
	d.Attributes = m.Attributes
	publish, err := oneOf("publishTime", m.PublishTime, "publish_time", m.PublishOld)
	if err != nil {
		return runner.Delivery{}, err
	}
	if d.PublishTime, err = parsePublishTime(publish); err != nil {
		return runner.Delivery{}, fmt.Errorf("%w: message %s: %v", ErrMalformed, d.ID, err)
	}
	if d.Subscription, err = subscriptionID(env.Subscription); err != nil {
		return runner.Delivery{}, fmt.Errorf("%w: message %s: %v", ErrMalformed, d.ID, err)
	}
	if env.DeliveryAttempt != nil {
		if *env.DeliveryAttempt < 0 {
			return runner.Delivery{}, fmt.Errorf("%w: message %s: deliveryAttempt %d is negative", ErrMalformed, d.ID, *env.DeliveryAttempt)
		}
		d.DeliveryAttempt = *env.DeliveryAttempt
	}
	return d, nil
}

func decodeUnwrapped(h http.Header, body []byte) (runner.Delivery, error) {
	d := runner.Delivery{ID: h.Get(HeaderMessageID), Data: body}
	var err error
	if d.PublishTime, err = parsePublishTime(h.Get(HeaderPublishTime)); err != nil {
		return runner.Delivery{}, fmt.Errorf("%w: message %s: %s: %v", ErrMalformed, d.ID, HeaderPublishTime, err)
	}
	if d.Subscription, err = subscriptionID(h.Get(HeaderSubscription)); err != nil {
		return runner.Delivery{}, fmt.Errorf("%w: message %s: %s: %v", ErrMalformed, d.ID, HeaderSubscription, err)
	}
	if s := h.Get(HeaderDeliveryAttempt); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return runner.Delivery{}, fmt.Errorf("%w: message %s: %s %q is not a count", ErrMalformed, d.ID, HeaderDeliveryAttempt, s)
		}
		d.DeliveryAttempt = n
	}
	for k, v := range h {
		if strings.HasPrefix(k, metadataPrefix) || transportHeaders[k] || len(v) == 0 {
			continue
		}
		if d.Attributes == nil {
			d.Attributes = map[string]string{}
		}
		d.Attributes[strings.ToLower(k)] = v[0]
	}
	return d, nil
}

// oneOf returns whichever of the two spellings of a field is set, and refuses two that
// disagree.
func oneOf(name, v, oldName, old string) (string, error) {
	if v != "" && old != "" && v != old {
		return "", fmt.Errorf("%w: %s %q and %s %q disagree", ErrMalformed, name, v, oldName, old)
	}
	if v != "" {
		return v, nil
	}
	return old, nil
}

// decodeBase64 accepts what the JSON form of a protobuf bytes field may hold: standard or
// URL-safe base64, with or without padding. Pub/Sub writes standard with padding.
func decodeBase64(s string) ([]byte, error) {
	enc := base64.StdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.URLEncoding
	}
	if !strings.HasSuffix(s, "=") && len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	return enc.Strict().DecodeString(s)
}

func parsePublishTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("publish time %q is not RFC 3339", s)
	}
	return t, nil
}

// subscriptionID returns the ID of a subscription's full name,
// "projects/<project>/subscriptions/<id>"; "" stays "".
func subscriptionID(full string) (string, error) {
	if full == "" {
		return "", nil
	}
	parts := strings.Split(full, "/")
	if len(parts) != 4 || parts[0] != "projects" || parts[1] == "" || parts[2] != "subscriptions" || parts[3] == "" {
		return "", fmt.Errorf("subscription %q is not projects/<project>/subscriptions/<id>", full)
	}
	return parts[3], nil
}
