// Package bench measures fedscore end to end: it runs real loopback
// federations (a coordinator and N partner nodes talking gRPC over mTLS,
// see package sandbox) for a matrix of partner counts, query sizes and
// records per partner, and compares every configuration with three
// baselines run in the same process and the same run:
//
//   - crypto-only: the same query's Lattigo operations (encrypt, sum,
//     decryption shares, key-switch shares, combine, decrypt), parties in
//     parallel goroutines, no network, no policy, no scan;
//   - Paillier: the FATE approach, the same values encrypted, added and
//     decrypted with textbook 2048-bit Paillier, measured on a subset of
//     the values and extrapolated linearly;
//   - plaintext: the same protocol without encryption (scan, sum the
//     counts, compute the release mask, sum the masked vectors), in process.
//
// A configuration's size is given in cells: the aggregate values each
// partner encrypts per query, i.e. the query's vector length. Specs are
// built from the synthetic schema with ValuesPerCell values per group-by
// cell (a count and three clipped means), so 512 cells are 128 group-by
// cells and one ciphertext, 8192 cells fill one bgv13 ciphertext, and
// 32768 cells are 8192 group-by cells in four ciphertexts. Group-by cells
// cannot exceed the slot count (8192 for bgv13): the querier, coordinator
// and nodes refuse larger tables.
//
// The runner reports latency percentiles, the coordinator's phase timings,
// node-side component costs, bytes on the wire, CPU time and peak memory,
// as a text table, JSON and an SVG plot.
package bench
