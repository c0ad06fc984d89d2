package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"cloud.google.com/go/pubsub/v2"

	"github.com/nba-props/pipeline/messages"
)

// PoisonAttr marks a message the chaos run published knowing that it cannot be processed;
// its value is the kind of poison. The dead-letter store must keep it with the reason of
// its kind.
const PoisonAttr = "chaos_poison"

// poisonKind is one way a message can be wrong, the topic it goes to and the dead-letter
// reason the runtime must give it.
type poisonKind struct {
	name   string
	phase  messages.Phase
	reason string
	// build returns the body and the attributes; n makes each message distinct.
	build func(runID string, n int) ([]byte, map[string]string)
}

// poisonKinds are the poison messages of a run: a body that is not JSON, a job nobody has,
// a job of another phase and a date that does not exist. Each carries routing attributes
// as a producer would set them, so each reaches the subscription that must refuse it.
func poisonKinds(date string) []poisonKind {
	req := func(p messages.Phase, job, d, runID string) ([]byte, map[string]string) {
		r := messages.Request{Version: messages.Version, Phase: p, Job: job, Date: d, RunID: runID,
			Trigger: messages.Trigger{Kind: messages.TriggerProducer}, Lane: messages.LaneBackfill}
		body, _ := json.Marshal(r)
		return body, r.Attributes()
	}
	return []poisonKind{
		{"malformed_json", messages.PhaseRaw, "malformed", func(runID string, n int) ([]byte, map[string]string) {
			_, attrs := req(messages.PhaseRaw, "nbac_schedule", date, runID)
			return []byte(fmt.Sprintf(`{"version":1,"phase":"raw","job":"nbac_schedule","date":"%s","run_id":"%s-%d"`, date, runID, n)), attrs
		}},
		{"unknown_job", messages.PhaseAnalytics, "unknown_job", func(runID string, n int) ([]byte, map[string]string) {
			return req(messages.PhaseAnalytics, "player_prop_predictions", date, fmt.Sprintf("%s-%d", runID, n))
		}},
		{"job_of_another_phase", messages.PhaseScrapers, "job_not_in_phase", func(runID string, n int) ([]byte, map[string]string) {
			return req(messages.PhaseScrapers, "player_game_summary", date, fmt.Sprintf("%s-%d", runID, n))
		}},
		{"invalid_date", messages.PhaseReference, "invalid_date", func(runID string, n int) ([]byte, map[string]string) {
			return req(messages.PhaseReference, "player_registry", "2024-11-31", fmt.Sprintf("%s-%d", runID, n))
		}},
	}
}

// publisher publishes the chaos run's own messages: poison, and duplicates of what the
// consumers emit. It goes through the Pub/Sub API like the producer, so it works on any
// emulator and on Pub/Sub itself.
type publisher struct {
	client *pubsub.Client
	names  messages.Names
	cat    *messages.Catalog

	mu     sync.Mutex
	pubs   map[string]*pubsub.Publisher
	poison map[string]string // message id → expected dead-letter reason
	kinds  map[string]string // message id → poison kind
	dups   int
}

func newPublisher(c *pubsub.Client, names messages.Names, cat *messages.Catalog) *publisher {
	return &publisher{client: c, names: names, cat: cat, pubs: map[string]*pubsub.Publisher{},
		poison: map[string]string{}, kinds: map[string]string{}}
}

func (p *publisher) publisher(topic string) *pubsub.Publisher {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pub, ok := p.pubs[topic]; ok {
		return pub
	}
	pub := p.client.Publisher(topic)
	p.pubs[topic] = pub
	return pub
}

// publish sends one message and waits for its id.
func (p *publisher) publish(ctx context.Context, topic string, data []byte, attrs map[string]string) (string, error) {
	id, err := p.publisher(topic).Publish(ctx, &pubsub.Message{Data: data, Attributes: attrs}).Get(ctx)
	if err != nil {
		return "", fmt.Errorf("publish to %s: %w", topic, err)
	}
	return id, nil
}

// poisonOne publishes the n-th message of kind k, marked with PoisonAttr.
func (p *publisher) poisonOne(ctx context.Context, k poisonKind, runID string, n int) error {
	body, attrs := k.build(runID, n)
	attrs[PoisonAttr] = k.name
	id, err := p.publish(ctx, p.names.Topic(k.phase), body, attrs)
	if err != nil {
		return fmt.Errorf("poison %s: %w", k.name, err)
	}
	p.mu.Lock()
	p.poison[id], p.kinds[id] = k.reason, k.name
	p.mu.Unlock()
	return nil
}

// duplicate publishes again, byte for byte, the messages a consumer emitted when it
// finished req: one per downstream job the request reaches. The consumer published them
// already; these are the copies an at-least-once transport may deliver.
func (p *publisher) duplicate(ctx context.Context, req messages.Request) error {
	for _, to := range p.cat.Downstream(req.Ref()) {
		if !req.Reaches(to.Phase) {
			continue
		}
		body, attrs, err := messages.Encode(req.Next(to), p.cat)
		if err != nil {
			return err
		}
		if _, err := p.publish(ctx, p.names.Topic(to.Phase), body, attrs); err != nil {
			return fmt.Errorf("duplicate of %s %s: %w", to, req.Date, err)
		}
		p.mu.Lock()
		p.dups++
		p.mu.Unlock()
	}
	return nil
}

// poisoned returns the poison messages published: id → reason, id → kind.
func (p *publisher) poisoned() (map[string]string, map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, k := map[string]string{}, map[string]string{}
	for id, v := range p.poison {
		r[id], k[id] = v, p.kinds[id]
	}
	return r, k
}

func (p *publisher) duplicates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dups
}

func (p *publisher) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pub := range p.pubs {
		pub.Stop()
	}
}
