package runner

import "time"

// A Delivery is one message as a transport hands it to the runtime. The runtime never sees
// the transport's own message type: streaming pull and HTTP push are two adapters that
// build a Delivery, call Runtime.Deliver and carry out the Settlement it returns.
type Delivery struct {
	// ID is the Pub/Sub message id.
	ID string
	// Data is the message body, already base64-decoded by the transport.
	Data []byte
	// Attributes are the message attributes (routing fields, trace context).
	Attributes map[string]string
	// PublishTime is when Pub/Sub accepted the message (zero if the transport does not say).
	PublishTime time.Time
	// DeliveryAttempt counts deliveries of this message on its subscription; 0 when the
	// subscription has no dead-letter policy, which is the only case Pub/Sub counts them.
	DeliveryAttempt int
	// Subscription is the subscription's ID (not its full resource name).
	Subscription string
}

// Settlement is what the transport does with a delivery once the runtime has decided. It
// is the whole of the runtime's answer: a transport never acks or nacks on its own.
type Settlement int

// The settlements. Pull acks or nacks the message; push answers 2xx for Ack and an error
// status otherwise (Pub/Sub then redelivers with the subscription's backoff).
const (
	// Ack removes the message: it was handled, or recorded for the runtime to act on later.
	Ack Settlement = iota
	// Nack hands the message back for redelivery under the subscription's retry policy; it
	// spends a delivery attempt.
	Nack
	// Busy hands the message back because this instance cannot take it now (it is shutting
	// down, or at its concurrency bound). Nothing was recorded; another instance, or this
	// one later, takes it.
	Busy
)

func (s Settlement) String() string {
	switch s {
	case Ack:
		return "ack"
	case Nack:
		return "nack"
	case Busy:
		return "busy"
	}
	return "settlement(?)"
}
