// Package catalog publishes what a federation can be asked: the purposes its
// policy bundle knows, with their legal basis, the columns each may read and
// what reading them requires (an approved impact assessment, separate
// consent, consent to provision), the minimum number of partners, and the
// privacy settings; joined with the consortium's published column schema
// (each column's type, unit and typical bins or values).
//
// A querier checks a query spec against the catalogue before signing it
// ([Catalog.Check]): the problems come back field by field, in the same
// form as the spec's own validation ([query.ValidationError]), naming the
// policy's code and article where the nodes would refuse the query. The
// catalogue is advice built from the signed bundle; every node still
// decides for itself.
package catalog
