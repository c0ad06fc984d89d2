package topology

import "cloud.google.com/go/bigquery"

// Table declares one BigQuery table of the pipeline. Tables are DATE-partitioned on
// PartitionField unless it is empty.
type Table struct {
	Dataset        string
	Name           string
	Description    string
	Schema         bigquery.Schema
	PartitionField string
	// RequirePartitionFilter makes BigQuery reject queries that would scan every day.
	RequirePartitionFilter bool
	Clustering             []string
}

// FullName is "dataset.table".
func (t Table) FullName() string { return t.Dataset + "." + t.Name }
