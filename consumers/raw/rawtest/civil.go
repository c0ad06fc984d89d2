package rawtest

import (
	"time"

	"cloud.google.com/go/civil"
)

func civilFromTime(t time.Time) any { return civil.DateOf(t) }
