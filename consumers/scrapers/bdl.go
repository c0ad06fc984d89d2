package scrapers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// maxPages stops a cursor that never ends (a source bug) from paging forever.
const maxPages = 500

// bdl calls Ball Don't Lie v1 (the key goes in the Authorization header).
type bdl struct {
	src     *source
	perPage int
}

// bdlRow is what the scrapers check of a row against the schedule: a game row's teams, or
// a stats row's team.
type bdlRow struct {
	HomeTeam    bdlTeamRef `json:"home_team"`
	VisitorTeam bdlTeamRef `json:"visitor_team"`
	Team        bdlTeamRef `json:"team"`
}

type bdlTeamRef struct {
	Abbreviation string `json:"abbreviation"`
}

type bdlPage struct {
	Data []bdlRow `json:"data"`
	Meta struct {
		NextCursor json.Number `json:"next_cursor"`
	} `json:"meta"`
}

// bdlFetched is one page as served and what it held.
type bdlFetched struct {
	body     []byte
	rows     []bdlRow
	attempts int
}

// pages follows the cursor of a list endpoint from the first page to the last.
func (c *bdl) pages(ctx context.Context, endpoint string, query url.Values) ([]bdlFetched, error) {
	var out []bdlFetched
	cursor := ""
	seen := map[string]bool{}
	for n := 1; ; n++ {
		if n > maxPages {
			return nil, fmt.Errorf("bdl GET %s: more than %d pages; the cursor does not end", endpoint, maxPages)
		}
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("per_page", strconv.Itoa(c.perPage))
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var p bdlPage
		resp, err := c.src.get(ctx, request{endpoint: endpoint, query: q, decode: func(body []byte) error {
			p = bdlPage{}
			return json.Unmarshal(body, &p)
		}})
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", n, err)
		}
		out = append(out, bdlFetched{body: resp.body, rows: p.Data, attempts: resp.attempts})
		next := p.Meta.NextCursor.String()
		if next == "" || len(p.Data) == 0 {
			return out, nil
		}
		if seen[next] {
			return nil, fmt.Errorf("bdl GET %s: cursor %s repeats; the source's paging is broken", endpoint, next)
		}
		seen[next] = true
		cursor = next
	}
}
