package raw

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// bdlInjuries loads the Ball Don't Lie injury report scraped on a date into
// nba_raw.bdl_injuries, partitioned by report_date. The source only serves the current
// report, so the date of the request is the report date.
type bdlInjuries struct{ l *loader }

// injuryRow is one row of nba_raw.bdl_injuries.
type injuryRow struct {
	ReportDate         string  `json:"report_date"`
	BDLPlayerID        int64   `json:"bdl_player_id"`
	PlayerFullName     string  `json:"player_full_name"`
	PlayerLookup       string  `json:"player_lookup"`
	TeamAbbr           *string `json:"team_abbr"`
	Status             string  `json:"status"`
	ReturnDateText     string  `json:"return_date_text"`
	ExpectedReturnDate *string `json:"expected_return_date"`
	Description        string  `json:"description"`
	SourceFile         string  `json:"source_file_path"`
	ProcessedAt        string  `json:"processed_at"`
}

type bdlInjury struct {
	Player      bdlPlayer `json:"player"`
	ReturnDate  string    `json:"return_date"`
	Description string    `json:"description"`
	Status      string    `json:"status"`
}

func (j *bdlInjuries) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	groups, err := j.l.listAndRead(ctx, messages.ScrapedBDLInjuries.Prefix(req.Date))
	if err != nil {
		return runner.Result{}, err
	}
	now := processedAt()
	var rows []any
	seen := map[int64]bool{}
	for _, o := range groups[0] {
		var p bdlPage
		if err := json.Unmarshal(o.Body, &p); err != nil {
			return runner.Result{}, badRecord(o, jsonPosition(err), err)
		}
		for i, raw := range p.Data {
			pos := fmt.Sprintf("data[%d]", i)
			var in bdlInjury
			if err := json.Unmarshal(raw, &in); err != nil {
				return runner.Result{}, badRecord(o, pos, err)
			}
			r, err := injuryRowOf(in, req.Date, o)
			if err != nil {
				return runner.Result{}, badRecord(o, pos, err)
			}
			if seen[r.BDLPlayerID] {
				return runner.Result{}, badRecord(o, pos, fmt.Errorf("player %d listed twice", r.BDLPlayerID))
			}
			seen[r.BDLPlayerID] = true
			r.ProcessedAt = now
			rows = append(rows, r)
		}
	}
	return j.l.load(ctx, req, "bdl_injuries", fingerprint("bdl_injuries", req.Date, groups...), rows)
}

func injuryRowOf(in bdlInjury, reportDate string, o object) (injuryRow, error) {
	if in.Player.ID == 0 {
		return injuryRow{}, fmt.Errorf("player id missing")
	}
	name := strings.TrimSpace(strings.TrimSpace(in.Player.FirstName) + " " + strings.TrimSpace(in.Player.LastName))
	lookup := nba.PlayerLookup(name)
	if lookup == "" {
		return injuryRow{}, fmt.Errorf("player %d has no name", in.Player.ID)
	}
	r := injuryRow{
		ReportDate: reportDate, BDLPlayerID: int64(in.Player.ID), PlayerFullName: name, PlayerLookup: lookup,
		Status: in.Status, ReturnDateText: in.ReturnDate, Description: in.Description, SourceFile: o.URI(),
	}
	if in.Player.TeamID != nil {
		t, err := nba.BDLTeam(*in.Player.TeamID)
		if err != nil {
			return injuryRow{}, err
		}
		r.TeamAbbr = &t
	}
	if in.ReturnDate != "" {
		d, err := returnDate(in.ReturnDate, reportDate)
		if err != nil {
			return injuryRow{}, err
		}
		r.ExpectedReturnDate = &d
	}
	return r, nil
}

// returnDate resolves BDL's "Nov 17" to the first such date on or after the report date
// (a report in December saying "Jan 5" means next year). A full date is taken as it is.
func returnDate(s, reportDate string) (string, error) {
	rep, err := time.Parse(nba.DateLayout, reportDate)
	if err != nil {
		return "", err
	}
	if t, err := time.Parse(nba.DateLayout, s); err == nil {
		return t.Format(nba.DateLayout), nil
	}
	md, err := time.Parse("Jan 2", strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("return_date %q: want a month and day such as Nov 17", s)
	}
	d := time.Date(rep.Year(), md.Month(), md.Day(), 0, 0, 0, 0, time.UTC)
	if d.Before(rep) {
		d = d.AddDate(1, 0, 0)
	}
	return d.Format(nba.DateLayout), nil
}
