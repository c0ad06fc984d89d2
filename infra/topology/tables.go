package topology

// Datasets are the BigQuery datasets of the pipeline.
func Datasets() []string { return []string{"nba_raw", "nba_reference", "nba_analytics"} }

// Tables are the BigQuery tables of the pipeline (reference/sources.md §4).
func Tables() []Table { return nil }
