package raw

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nba-props/pipeline/consumers/nba"
	"github.com/nba-props/pipeline/consumers/runner"
	"github.com/nba-props/pipeline/messages"
)

// oddsPlayerPointsProps loads The Odds API player_points snapshots into
// nba_raw.odds_api_player_points_props: one row per event, snapshot, bookmaker and player,
// with the Over and Under prices as American odds and the minutes from the snapshot to
// tip-off. Every per-event object of the date is read, so a later snapshot is never hidden by
// an earlier one.
type oddsPlayerPointsProps struct{ l *loader }

// propRow is one row of nba_raw.odds_api_player_points_props.
type propRow struct {
	GameID              string  `json:"game_id"`
	EventID             string  `json:"odds_api_event_id"`
	GameDate            string  `json:"game_date"`
	GameStartTime       string  `json:"game_start_time"`
	HomeTeamAbbr        string  `json:"home_team_abbr"`
	AwayTeamAbbr        string  `json:"away_team_abbr"`
	SnapshotTimestamp   string  `json:"snapshot_timestamp"`
	MinutesBeforeTipoff int64   `json:"minutes_before_tipoff"`
	Bookmaker           string  `json:"bookmaker"`
	PlayerName          string  `json:"player_name"`
	PlayerLookup        string  `json:"player_lookup"`
	PointsLine          float64 `json:"points_line"`
	OverPriceAmerican   *int64  `json:"over_price_american"`
	UnderPriceAmerican  *int64  `json:"under_price_american"`
	SourceFile          string  `json:"source_file_path"`
	ProcessedAt         string  `json:"processed_at"`
}

type oddsEvent struct {
	ID           string `json:"id"`
	CommenceTime string `json:"commence_time"`
	HomeTeam     string `json:"home_team"`
	AwayTeam     string `json:"away_team"`
}

type oddsOutcome struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Price       *float64 `json:"price"`
	Point       *float64 `json:"point"`
}

type oddsEventOdds struct {
	Timestamp string `json:"timestamp"`
	Data      *struct {
		oddsEvent
		Bookmakers []struct {
			Key     string `json:"key"`
			Markets []struct {
				Key      string        `json:"key"`
				Outcomes []oddsOutcome `json:"outcomes"`
			} `json:"markets"`
		} `json:"bookmakers"`
	} `json:"data"`
}

type oddsEventList struct {
	Timestamp string      `json:"timestamp"`
	Data      []oddsEvent `json:"data"`
}

func (j *oddsPlayerPointsProps) Run(ctx context.Context, req messages.Request) (runner.Result, error) {
	groups, err := j.l.listAndRead(ctx, messages.ScrapedOddsAPIPlayerProps.Prefix(req.Date))
	if err != nil {
		return runner.Result{}, err
	}
	now := processedAt()
	var rows []any
	listed := 0
	for _, o := range groups[0] {
		if messages.IsOddsEventsList(o.Name) {
			n, err := countListedEvents(o, req.Date)
			if err != nil {
				return runner.Result{}, err
			}
			listed = max(listed, n)
			continue
		}
		parsed, err := parseEventOdds(o, req.Date)
		if err != nil {
			return runner.Result{}, err
		}
		for _, r := range parsed {
			r.ProcessedAt = now
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 && listed > 0 {
		return runner.Result{}, runner.Permanent(fmt.Errorf("%w: the events lists of %s have %d games but no object holds a player_points line; re-scrape the date",
			ErrEmptyInput, req.Date, listed))
	}
	return j.l.load(ctx, req, "odds_api_player_points_props", fingerprint("odds_api_player_points_props", req.Date, groups...), rows)
}

// countListedEvents counts the events of an events list that tip off on date.
func countListedEvents(o object, date string) (int, error) {
	var l oddsEventList
	if err := json.Unmarshal(o.Body, &l); err != nil {
		return 0, badRecord(o, jsonPosition(err), err)
	}
	n := 0
	for i, e := range l.Data {
		t, err := nba.ParseUTC(e.CommenceTime)
		if err != nil {
			return 0, badRecord(o, fmt.Sprintf("data[%d]", i), err)
		}
		if nba.GameDate(t) == date {
			n++
		}
	}
	return n, nil
}

// parseEventOdds reads one (event, snapshot) object.
func parseEventOdds(o object, date string) ([]propRow, error) {
	var doc oddsEventOdds
	if err := json.Unmarshal(o.Body, &doc); err != nil {
		return nil, badRecord(o, jsonPosition(err), err)
	}
	if doc.Data == nil {
		return nil, badRecord(o, "data", fmt.Errorf("missing: not a historical event odds response"))
	}
	snap, err := nba.ParseUTC(doc.Timestamp)
	if err != nil {
		return nil, badRecord(o, "timestamp", err)
	}
	ev := doc.Data.oddsEvent
	tip, err := nba.ParseUTC(ev.CommenceTime)
	if err != nil {
		return nil, badRecord(o, "data.commence_time", err)
	}
	gameDate := nba.GameDate(tip)
	if gameDate != date {
		return nil, badRecord(o, "data.commence_time", fmt.Errorf("event %s tips off on %s, not %s", ev.ID, gameDate, date))
	}
	home, err := nba.Team(ev.HomeTeam)
	if err != nil {
		return nil, badRecord(o, "data.home_team", err)
	}
	away, err := nba.Team(ev.AwayTeam)
	if err != nil {
		return nil, badRecord(o, "data.away_team", err)
	}
	gameID, err := nba.GameID(gameDate, away, home)
	if err != nil {
		return nil, badRecord(o, "data", err)
	}
	if ev.ID == "" {
		return nil, badRecord(o, "data.id", fmt.Errorf("event id missing"))
	}
	base := propRow{
		GameID: gameID, EventID: ev.ID, GameDate: gameDate, GameStartTime: tip.Format("2006-01-02T15:04:05Z"),
		HomeTeamAbbr: home, AwayTeamAbbr: away, SnapshotTimestamp: snap.Format("2006-01-02T15:04:05Z"),
		MinutesBeforeTipoff: nba.MinutesBeforeTipoff(snap, tip), SourceFile: o.URI(),
	}
	var out []propRow
	for bi, b := range doc.Data.Bookmakers {
		if b.Key == "" {
			return nil, badRecord(o, fmt.Sprintf("data.bookmakers[%d]", bi), fmt.Errorf("bookmaker key missing"))
		}
		for mi, m := range b.Markets {
			if m.Key != "player_points" {
				continue
			}
			byPlayer := map[string]int{} // lookup -> index in out
			for oi, oc := range m.Outcomes {
				pos := fmt.Sprintf("data.bookmakers[%d].markets[%d].outcomes[%d]", bi, mi, oi)
				r, side, err := outcomeRow(base, b.Key, oc)
				if err != nil {
					return nil, badRecord(o, pos, err)
				}
				i, ok := byPlayer[r.PlayerLookup]
				if !ok {
					byPlayer[r.PlayerLookup] = len(out)
					out = append(out, r)
					continue
				}
				prev := &out[i]
				if prev.PointsLine != r.PointsLine {
					return nil, badRecord(o, pos, fmt.Errorf("%s: Over and Under at different points (%v, %v)", r.PlayerName, prev.PointsLine, r.PointsLine))
				}
				dst, src := &prev.OverPriceAmerican, r.OverPriceAmerican
				if side == "Under" {
					dst, src = &prev.UnderPriceAmerican, r.UnderPriceAmerican
				}
				if *dst != nil {
					return nil, badRecord(o, pos, fmt.Errorf("%s: second %s outcome at %s", r.PlayerName, side, b.Key))
				}
				*dst = src
			}
		}
	}
	return out, nil
}

// outcomeRow turns one Over or Under outcome into a row carrying that side's price.
func outcomeRow(base propRow, book string, oc oddsOutcome) (propRow, string, error) {
	name := strings.TrimSpace(oc.Description)
	lookup := nba.PlayerLookup(name)
	if lookup == "" {
		return propRow{}, "", fmt.Errorf("outcome without a player description")
	}
	if oc.Point == nil {
		return propRow{}, "", fmt.Errorf("%s: point missing", name)
	}
	var price *int64
	if oc.Price != nil {
		a, err := nba.AmericanOdds(*oc.Price)
		if err != nil {
			return propRow{}, "", fmt.Errorf("%s: %w", name, err)
		}
		price = &a
	}
	r := base
	r.Bookmaker, r.PlayerName, r.PlayerLookup, r.PointsLine = book, name, lookup, *oc.Point
	switch oc.Name {
	case "Over":
		r.OverPriceAmerican = price
	case "Under":
		r.UnderPriceAmerican = price
	default:
		return propRow{}, "", fmt.Errorf("%s: outcome name %q: want Over or Under", name, oc.Name)
	}
	return r, oc.Name, nil
}
