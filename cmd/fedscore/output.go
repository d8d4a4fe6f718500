package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/fedscore/fedscore/querier"
)

// printAnswer writes a query answer as a table or as JSON:
// {"rows":[...], "partners":[...], "timings_ms":{...}}.
func printAnswer(w io.Writer, ans *querier.Answer, asJSON bool, extra map[string]any) error {
	if asJSON {
		rows, err := json.Marshal(ans.Result)
		if err != nil {
			return err
		}
		doc := map[string]any{}
		if err := json.Unmarshal(rows, &doc); err != nil {
			return err
		}
		doc["query_id"] = ans.QueryID
		doc["partners"] = ans.Partners
		doc["timings_ms"] = ans.TimingsMs
		maps.Copy(doc, extra)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	if err := ans.Result.WriteTable(w); err != nil {
		return err
	}
	if n := withheld(ans); n > 0 {
		fmt.Fprintf(w, "(- : %d values withheld by the partners' release gate: cells below the minimum cell size, and cells that would reveal them)\n", n)
	}
	fmt.Fprintf(w, "\nquery %s answered by %d partners: %v\n", ans.QueryID, len(ans.Partners), ans.Partners)
	for _, r := range ans.Receipts {
		fmt.Fprintf(w, "  %-20s decision %s, policy revision %s\n", r.Node, r.DecisionId, r.BundleRevision)
	}
	printTimings(w, ans.TimingsMs)
	return nil
}

// phaseOrder lists the timing phases in protocol order.
var phaseOrder = []string{"load_data", "setup_pki_keygen", "sign", "counts", "release_gate", "inputs", "key_switch", "combine", "total", "decrypt", "end_to_end"}

func printTimings(w io.Writer, t map[string]float64) {
	fmt.Fprintln(w, "timings (ms):")
	keys := slices.Sorted(maps.Keys(t))
	slices.SortStableFunc(keys, func(a, b string) int {
		ia, ib := slices.Index(phaseOrder, a), slices.Index(phaseOrder, b)
		if ia < 0 {
			ia = len(phaseOrder)
		}
		if ib < 0 {
			ib = len(phaseOrder)
		}
		return ia - ib
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %-12s %9.2f\n", k, t[k])
	}
}

// withheld counts the values the release gate suppressed.
func withheld(ans *querier.Answer) int {
	n := 0
	for _, row := range ans.Result.Rows {
		for i, v := range row.Values {
			if v == nil && ans.Result.Columns[i] != "" {
				n++
			}
		}
	}
	return n
}
