// Package dataset holds a partner's customer records in memory, column by
// column, and reads and writes them as CSV.
//
// A [Table] is immutable once built. Each [Column] has one [Kind]: numbers
// are float64 with NaN marking a missing value, categories are int32 codes
// into a dictionary with -1 marking a missing value, and booleans carry a
// parallel Missing slice. [ReadCSV] infers the kind of every column, and a
// [Mapping] can rename, retype or drop columns on the way in. A [Builder]
// assembles a Table from column slices in code.
package dataset
