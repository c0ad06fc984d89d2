package bqemu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/nba-props/pipeline/infra/bqemu/bqsql"
)

// statement is a translated BigQuery statement with what the server needs to run it.
type statement struct {
	SQL  string
	Kind string
	// PartitionField, PartitionType and Clustering come from CREATE TABLE … PARTITION BY /
	// CLUSTER BY, which DuckDB does not store.
	PartitionField string
	PartitionType  string
	Clustering     []string
	Description    string
	// Reads and FilterNames are what the requirePartitionFilter check needs (bqsql.Statement).
	Reads       [][]string
	FilterNames map[string]bool
	// Target is the table (or dataset) a DML or DDL statement writes, as written.
	Target []string
	// Parts are the statements of a SCRIPT, run one by one.
	Parts []*statement
}

// unsupportedError reports a BigQuery construct the emulator cannot run.
type unsupportedError struct{ construct string }

func (e *unsupportedError) Error() string { return e.construct + " is not supported" }

// translate turns BigQuery SQL into DuckDB SQL; errors are invalidQuery API errors.
func translate(q string) (*statement, error) {
	st, err := bqsql.Translate(q)
	if err != nil {
		var ue *bqsql.UnsupportedError
		var se *bqsql.SyntaxError
		switch {
		case errors.As(err, &ue):
			return nil, &unsupportedError{construct: ue.Construct}
		case errors.As(err, &se):
			return nil, syntaxError(se)
		default:
			return nil, errInvalidQuery("%v", err)
		}
	}
	return convertStatement(st), nil
}

// syntaxError words a translator syntax error as BigQuery does:
// "Syntax error: Unexpected identifier "SELEC" at [1:1]".
func syntaxError(se *bqsql.SyntaxError) *apiError {
	msg := se.Msg
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if se.Line > 0 {
		msg += fmt.Sprintf(" at [%d:%d]", se.Line, se.Column)
	}
	return errInvalidQuery("Syntax error: %s", msg)
}

func convertStatement(st *bqsql.Statement) *statement {
	out := &statement{SQL: st.SQL, Kind: st.Kind, Reads: st.Reads, FilterNames: st.FilterNames, Target: st.Target}
	if d := st.DDL; d != nil {
		out.PartitionField = d.PartitionField
		out.PartitionType = d.PartitionType
		out.Clustering = d.ClusterBy
		out.Description = d.Options["description"]
	}
	for _, p := range st.Statements {
		out.Parts = append(out.Parts, convertStatement(p))
	}
	return out
}

// setupCompat installs the compatibility macros into memory.main.
func setupCompat(ctx context.Context, db *sql.DB) error {
	return bqsql.Setup(ctx, db)
}
