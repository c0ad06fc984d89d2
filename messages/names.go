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

// Subscription is the subscription of one job in a lane: "<topic>.<job>" for the backfill
// lane, "<topic>.<job>.daily" for the daily lane. Each job has both, filtered on its name
// and the lane, so a daily run never queues behind a backfill's backlog and each lane has
// its own concurrency.
func (n Names) Subscription(r JobRef) string { return n.Topic(r.Phase) + "." + r.Job }

// DailySubscription is the subscription of one job's daily lane.
func (n Names) DailySubscription(r JobRef) string { return n.Subscription(r) + "." + LaneDaily }

// LaneSubscription is the subscription of one job in lane (LaneDaily or anything else,
// the backfill lane).
func (n Names) LaneSubscription(r JobRef, lane string) string {
	if lane == LaneDaily {
		return n.DailySubscription(r)
	}
	return n.Subscription(r)
}

// UnroutableSubscription is the unfiltered catch-all of a phase topic. Its consumer
// dead-letters what no job subscription would take (Pub/Sub silently drops a message that
// matches no filter).
func (n Names) UnroutableSubscription(p Phase) string { return n.Topic(p) + ".unroutable" }

// Filter is the Pub/Sub subscription filter of a job's subscription in a lane. A message
// without a lane attribute belongs to the backfill lane.
func Filter(r JobRef, lane string) string {
	if lane == LaneDaily {
		return `attributes.job = "` + r.Job + `" AND attributes.lane = "` + LaneDaily + `"`
	}
	return `attributes.job = "` + r.Job + `" AND NOT attributes.lane = "` + LaneDaily + `"`
}

// Lanes are the lanes every job has a subscription for: the backfill lane first.
func Lanes() []string { return []string{LaneBackfill, LaneDaily} }
