package crypto_test

import (
	"crypto/rand"
	"fmt"
	"log"

	"github.com/fedscore/fedscore/crypto"
)

// Two parties build a collective key, encrypt their vectors, and switch
// the sum to a querier, who alone decrypts it.
func Example() {
	p, err := crypto.NewParams(crypto.ParamsBGV13)
	if err != nil {
		log.Fatal(err)
	}
	crs := make([]byte, crypto.CRSSize)
	rand.Read(crs)

	// Key ceremony: each party keeps its secret share and publishes a CKG share.
	var secrets []*crypto.SecretShare
	var ckgShares [][]byte
	for range 2 {
		sk, err := p.NewSecretShare()
		if err != nil {
			log.Fatal(err)
		}
		share, err := p.CKGShare(sk, crs)
		if err != nil {
			log.Fatal(err)
		}
		secrets = append(secrets, sk)
		ckgShares = append(ckgShares, share)
	}
	collective, err := p.CombineCKG(crs, ckgShares)
	if err != nil {
		log.Fatal(err)
	}

	// Each party encrypts its aggregates; the coordinator adds them.
	enc, err := p.NewEncryptor(collective)
	if err != nil {
		log.Fatal(err)
	}
	a, err := enc.Encrypt([]int64{10, -3, 7})
	if err != nil {
		log.Fatal(err)
	}
	b, err := enc.Encrypt([]int64{5, 4, -7})
	if err != nil {
		log.Fatal(err)
	}
	sum, err := p.NewEvaluator().Sum([]*crypto.Ciphertext{a[0], b[0]})
	if err != nil {
		log.Fatal(err)
	}

	// Every party contributes a key-switch share towards the querier.
	querier, querierPK, err := p.NewReceiverKey()
	if err != nil {
		log.Fatal(err)
	}
	var ksShares [][]byte
	for _, sk := range secrets {
		ks, err := p.NewKeySwitcher(sk)
		if err != nil {
			log.Fatal(err)
		}
		share, err := ks.Share(querierPK, sum)
		if err != nil {
			log.Fatal(err)
		}
		ksShares = append(ksShares, share)
	}
	result, err := p.CombineKeySwitch(sum, ksShares)
	if err != nil {
		log.Fatal(err)
	}

	values, err := querier.Decrypt(result)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(values[:3])
	// Output: [15 1 0]
}
