package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nba-props/pipeline/messages"
	"github.com/spf13/cobra"
)

func jobsCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List the job catalogue: phases, upstream and downstream edges, limits, backfill bounds",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return printJobsJSON(e)
			}
			printJobs(e)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func refs(rs []messages.JobRef) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func bounds(s messages.JobSpec) string {
	switch {
	case s.CurrentOnly:
		return "current day only (not backfillable)"
	case s.BackfillFrom == "" && s.BackfillTo == "":
		return "any date"
	}
	from, to := s.BackfillFrom, s.BackfillTo
	if from == "" {
		from = "…"
	}
	if to == "" {
		to = "…"
	}
	return from + " to " + to
}

func printJobs(e *env) {
	w := e.stdout
	for _, p := range messages.Phases() {
		specs := e.catalog.InPhase(p)
		fmt.Fprintf(w, "%s (topic %s, %s)\n", p, messages.Names{}.Topic(p), plural(len(specs), "job"))
		for _, s := range specs {
			fmt.Fprintf(w, "  %s\n", s.Name)
			if s.Description != "" {
				fmt.Fprintf(w, "      %s\n", s.Description)
			}
			line := func(label string, v []string) {
				if len(v) > 0 {
					fmt.Fprintf(w, "      %-12s %s\n", label, strings.Join(v, ", "))
				}
			}
			line("hard:", refs(s.Hard))
			line("soft:", refs(s.Soft))
			line("downstream:", refs(e.catalog.Downstream(s.Ref())))
			fmt.Fprintf(w, "      %-12s %d at once, timeout %s, ack deadline %s\n", "limits:", s.MaxConcurrency, s.Timeout, s.AckDeadline())
			fmt.Fprintf(w, "      %-12s %s\n", "dates:", bounds(s))
		}
	}
}

type jobJSON struct {
	Phase          string   `json:"phase"`
	Name           string   `json:"name"`
	Description    string   `json:"description,omitempty"`
	Hard           []string `json:"hard"`
	Soft           []string `json:"soft"`
	Downstream     []string `json:"downstream"`
	MaxConcurrency int      `json:"max_concurrency"`
	TimeoutSeconds float64  `json:"timeout_seconds"`
	BackfillFrom   string   `json:"backfill_from,omitempty"`
	BackfillTo     string   `json:"backfill_to,omitempty"`
	CurrentOnly    bool     `json:"current_only"`
}

func printJobsJSON(e *env) error {
	var out []jobJSON
	for _, s := range e.catalog.Jobs() {
		out = append(out, jobJSON{
			Phase: string(s.Phase), Name: s.Name, Description: s.Description,
			Hard: refs(s.Hard), Soft: refs(s.Soft), Downstream: refs(e.catalog.Downstream(s.Ref())),
			MaxConcurrency: s.MaxConcurrency, TimeoutSeconds: s.Timeout.Seconds(),
			BackfillFrom: s.BackfillFrom, BackfillTo: s.BackfillTo, CurrentOnly: s.CurrentOnly,
		})
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}
