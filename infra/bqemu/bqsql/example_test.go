package bqsql_test

import (
	"errors"
	"fmt"

	"github.com/nba-props/pipeline/infra/bqemu/bqsql"
)

func ExampleTranslate() {
	st, err := bqsql.Translate("SELECT player, pts / games AS ppg FROM `my-proj.nba.box` WHERE game_date = @d # one day")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.Kind, st.Params)
	fmt.Println(st.SQL)
	// Output:
	// SELECT [d]
	// SELECT player, bq_div(pts, games) AS ppg FROM "my-proj"."nba"."box" WHERE game_date = $d
}

func ExampleTranslate_dates() {
	st, _ := bqsql.Translate("SELECT DATE_DIFF(end_date, start_date, DAY) AS days, DATE_TRUNC(d, MONTH) FROM t")
	fmt.Println(st.SQL)
	// Output:
	// SELECT date_diff('day', CAST(start_date AS DATE), CAST(end_date AS DATE)) AS days, CAST(date_trunc('month', d) AS DATE) AS f0_ FROM t
}

func ExampleTranslate_ddl() {
	st, _ := bqsql.Translate(`CREATE TABLE nba.box (game_date DATE, player STRING, pts INT64)
		PARTITION BY game_date CLUSTER BY player OPTIONS(description="box scores")`)
	fmt.Println(st.Kind, st.DDL.Name, st.DDL.PartitionField, st.DDL.PartitionType, st.DDL.ClusterBy, st.DDL.Options["description"])
	fmt.Println(st.SQL)
	// Output:
	// CREATE_TABLE [nba box] game_date DAY [player] box scores
	// CREATE TABLE "nba"."box" ("game_date" DATE, "player" VARCHAR, "pts" BIGINT)
}

func ExampleTranslate_merge() {
	st, _ := bqsql.Translate(`MERGE nba.box T USING staging S ON FALSE
WHEN NOT MATCHED BY SOURCE AND T.game_date = @d THEN DELETE
WHEN NOT MATCHED THEN INSERT ROW`)
	fmt.Println(st.Kind)
	fmt.Println(st.SQL)
	// Output:
	// MERGE
	// MERGE INTO "nba"."box" T USING staging "S" ON FALSE
	// WHEN NOT MATCHED BY SOURCE AND T.game_date = $d THEN DELETE
	// WHEN NOT MATCHED THEN INSERT *
}

func ExampleTranslate_unsupported() {
	_, err := bqsql.Translate("SELECT FARM_FINGERPRINT(player) FROM nba.box")
	var ue *bqsql.UnsupportedError
	fmt.Println(errors.As(err, &ue), ue.Construct)
	// Output:
	// true function FARM_FINGERPRINT
}

func ExampleDuckDBType() {
	t, _ := bqsql.DuckDBType("ARRAY<STRUCT<name STRING, pts NUMERIC>>")
	fmt.Println(t)
	// Output:
	// STRUCT("name" VARCHAR, "pts" DECIMAL(38,9))[]
}
