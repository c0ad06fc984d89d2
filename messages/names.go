package messages

// DeadLetterTopicID is the base name of the topic that receives every message the pipeline
// cannot process, with the reason in its attributes.
const DeadLetterTopicID = "nba-deadletter"

// Names derives topic and subscription IDs for one environment. The prefix ("" in
// production, "dev-" or a test's random prefix elsewhere) lets several environments share a
// project.
type Names struct {
	Prefix string
}

// Topic is the topic of a phase, e.g. "nba-phase2-raw".
func (n Names) Topic(p Phase) string { return n.Prefix + p.baseTopic() }

// DeadLetterTopic is the dead-letter topic of the environment.
func (n Names) DeadLetterTopic() string { return n.Prefix + DeadLetterTopicID }

// DeadLetterSubscription keeps what is dead-lettered until someone looks at it, so that
// nothing published there is lost for want of a subscriber.
func (n Names) DeadLetterSubscription() string { return n.DeadLetterTopic() + ".archive" }

// Subscription is the subscription of one job: "<topic>.<job>", filtered on its name.
func (n Names) Subscription(r JobRef) string { return n.Topic(r.Phase) + "." + r.Job }

// UnroutableSubscription is the unfiltered catch-all of a phase topic. Its consumer
// dead-letters what no job subscription would take (Pub/Sub silently drops a message that
// matches no filter).
func (n Names) UnroutableSubscription(p Phase) string { return n.Topic(p) + ".unroutable" }

// Filter is the Pub/Sub subscription filter of a job's subscription.
func Filter(r JobRef) string { return `attributes.job = "` + r.Job + `"` }
