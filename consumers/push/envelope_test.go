package push_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nba-props/pipeline/consumers/push"
	"github.com/nba-props/pipeline/consumers/runner"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	published := mustTime(t, "2021-02-26T19:13:55.749Z")
	pipelineBody := `{"version":1,"phase":"raw","job":"bdl_injuries","date":"2024-11-02","run_id":"r1","trigger":{"kind":"producer"},"force":false,"stop_after":"","lane":"backfill"}`
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		want    runner.Delivery
	}{
		{
			// The push body of Pub/Sub's "receive messages from push subscriptions" page.
			name: "documented wrapped push",
			body: `{
			    "message": {
			        "attributes": {
			            "key": "value"
			        },
			        "data": "SGVsbG8gQ2xvdWQgUHViL1N1YiEgSGVyZSBpcyBteSBtZXNzYWdlIQ==",
			        "messageId": "2070443601311540",
			        "message_id": "2070443601311540",
			        "publishTime": "2021-02-26T19:13:55.749Z",
			        "publish_time": "2021-02-26T19:13:55.749Z"
			    },
			   "subscription": "projects/myproject/subscriptions/mysubscription"
			}`,
			want: runner.Delivery{ID: "2070443601311540", Data: []byte("Hello Cloud Pub/Sub! Here is my message!"),
				Attributes: map[string]string{"key": "value"}, PublishTime: published, Subscription: "mysubscription"},
		},
		{
			// The wrapped example of the payload-unwrapping page: an ordering key and a
			// Content-Type attribute.
			name: "documented wrapped push with ordering key",
			body: `{
			  "message": {
			      "attributes": {
			          "Content-Type": "application/json"
			      },
			      "data": "eyJzdGF0dXMiOiAiSGVsbG8gdGhlcmUifQ==",
			      "messageId": "2070443601311540",
			      "message_id": "2070443601311540",
			      "publishTime": "2021-02-26T19:13:55.749Z",
			      "publish_time": "2021-02-26T19:13:55.749Z",
			      "orderingKey": "some-key"
			  },
			  "subscription": "projects/myproject/subscriptions/mysubscription"
			}`,
			want: runner.Delivery{ID: "2070443601311540", Data: []byte(`{"status": "Hello there"}`),
				Attributes: map[string]string{"Content-Type": "application/json"}, PublishTime: published, Subscription: "mysubscription"},
		},
		{
			// The unwrapped example of the same page, with write metadata.
			name: "documented unwrapped push with write metadata",
			body: `{"status": "Hello there"}`,
			headers: map[string]string{
				"x-goog-pubsub-subscription-name": "projects/myproject/subscriptions/mysubscription",
				"x-goog-pubsub-message-id":        "2070443601311540",
				"x-goog-pubsub-publish-time":      "2021-02-26T19:13:55.749Z",
				"x-goog-pubsub-ordering-key":      "some-key",
				"Content-Type":                    "application/json",
			},
			want: runner.Delivery{ID: "2070443601311540", Data: []byte(`{"status": "Hello there"}`),
				PublishTime: published, Subscription: "mysubscription"},
		},
		{
			name: "snake_case only with a delivery attempt (dead-letter policy)",
			body: `{"deliveryAttempt": 5, "message": {"data": "aGk=", "message_id": "42", "publish_time": "2024-11-02T10:00:00Z"},
				"subscription": "projects/p/subscriptions/nba-phase2-raw.bdl_injuries"}`,
			want: runner.Delivery{ID: "42", Data: []byte("hi"), PublishTime: mustTime(t, "2024-11-02T10:00:00Z"),
				DeliveryAttempt: 5, Subscription: "nba-phase2-raw.bdl_injuries"},
		},
		{
			name: "pipeline request wrapped, unknown fields ignored",
			body: `{"message": {"data": "` + base64.StdEncoding.EncodeToString([]byte(pipelineBody)) + `",
				"attributes": {"job": "bdl_injuries", "phase": "raw", "date": "2024-11-02", "googclient_traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
				"messageId": "7", "futureField": true}, "subscription": "projects/p/subscriptions/s", "futureTop": 1}`,
			want: runner.Delivery{ID: "7", Data: []byte(pipelineBody), Subscription: "s", Attributes: map[string]string{
				"job": "bdl_injuries", "phase": "raw", "date": "2024-11-02", "googclient_traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
		},
		{
			name: "pipeline request unwrapped: attributes from headers, transport headers left out",
			body: pipelineBody,
			headers: map[string]string{
				"X-Goog-Pubsub-Message-Id":       "8",
				"X-Goog-Pubsub-Delivery-Attempt": "3",
				"job":                            "bdl_injuries",
				"Phase":                          "raw",
				"date":                           "2024-11-02",
				"googclient_traceparent":         "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
				"Authorization":                  "Bearer x.y.z",
				"User-Agent":                     "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
				"X-Cloud-Trace-Context":          "105445aa7843bc8bf206b12000100000/1;o=1",
			},
			want: runner.Delivery{ID: "8", Data: []byte(pipelineBody), DeliveryAttempt: 3, Attributes: map[string]string{
				"job": "bdl_injuries", "phase": "raw", "date": "2024-11-02", "googclient_traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
		},
		{
			name: "URL-safe unpadded data",
			body: `{"message": {"data": "-_8", "messageId": "9"}}`,
			want: runner.Delivery{ID: "9", Data: []byte{0xfb, 0xff}},
		},
		{
			name: "attributes only, no data",
			body: `{"message": {"attributes": {"a": "b"}, "messageId": "10"}}`,
			want: runner.Delivery{ID: "10", Attributes: map[string]string{"a": "b"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/push/raw/bdl_injuries", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			got, err := push.DecodeRequest(r)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("delivery (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeRequestRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		headers map[string]string
		wantErr error
		wantMsg string
	}{
		{"not JSON", `message=hello`, nil, push.ErrMalformed, "not a Pub/Sub push envelope"},
		{"empty body", ``, nil, push.ErrMalformed, "not a Pub/Sub push envelope"},
		{"JSON array", `[{"message": {}}]`, nil, push.ErrMalformed, "not a Pub/Sub push envelope"},
		{"no message (unwrapped without write metadata)", `{"version":1,"phase":"raw"}`, nil, push.ErrMalformed, `no "message" object`},
		{"null message", `{"message": null}`, nil, push.ErrMalformed, `no "message" object`},
		{"no message id", `{"message": {"data": "aGk="}}`, nil, push.ErrMalformed, "no messageId"},
		{"ids disagree", `{"message": {"data": "aGk=", "messageId": "1", "message_id": "2"}}`, nil, push.ErrMalformed, "disagree"},
		{"bad base64", `{"message": {"data": "not base64!", "messageId": "1"}}`, nil, push.ErrMalformed, "data is not base64"},
		{"data not a string", `{"message": {"data": 12, "messageId": "1"}}`, nil, push.ErrMalformed, "not a Pub/Sub push envelope"},
		{"bad publish time", `{"message": {"messageId": "1", "publishTime": "yesterday"}}`, nil, push.ErrMalformed, "not RFC 3339"},
		{"publish times disagree", `{"message": {"messageId": "1", "publishTime": "2021-02-26T19:13:55.749Z", "publish_time": "2021-02-26T19:13:56Z"}}`, nil, push.ErrMalformed, "disagree"},
		{"bad subscription", `{"message": {"messageId": "1"}, "subscription": "mysubscription"}`, nil, push.ErrMalformed, "projects/<project>/subscriptions/<id>"},
		{"negative delivery attempt", `{"message": {"messageId": "1"}, "deliveryAttempt": -1}`, nil, push.ErrMalformed, "negative"},
		{"unwrapped bad publish time", `x`, map[string]string{push.HeaderMessageID: "1", push.HeaderPublishTime: "now"}, push.ErrMalformed, "not RFC 3339"},
		{"unwrapped bad delivery attempt", `x`, map[string]string{push.HeaderMessageID: "1", push.HeaderDeliveryAttempt: "two"}, push.ErrMalformed, "not a count"},
		{"unwrapped bad subscription", `x`, map[string]string{push.HeaderMessageID: "1", push.HeaderSubscription: "projects/p/topics/t"}, push.ErrMalformed, "projects/<project>/subscriptions/<id>"},
		{"too large", `{"message": {"messageId": "1", "data": "` + strings.Repeat("A", push.MaxBodyBytes) + `"}}`, nil, push.ErrTooLarge, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, "/push/raw/bdl_injuries", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			d, err := push.DecodeRequest(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("DecodeRequest = %+v, %v; want an error wrapping %v", d, err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
		})
	}
}
