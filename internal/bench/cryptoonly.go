package bench

import (
	"crypto/rand"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedscore/fedscore/crypto"
)

// cryptoFederation holds the keys of an in-process federation of n
// parties for the crypto-only baseline: every party's secret-key share,
// the collective public key and a querier key.
type cryptoFederation struct {
	params crypto.Params
	shares []*crypto.SecretShare
	enc    *crypto.Encryptor // ShallowCopy'd per party
	rk     *crypto.ReceiverKey
	rpk    *crypto.PublicKey
}

// newCryptoFederation runs the collective key generation for n parties.
func newCryptoFederation(params crypto.Params, n int) (*cryptoFederation, error) {
	crs := make([]byte, crypto.CRSSize)
	if _, err := rand.Read(crs); err != nil {
		return nil, fmt.Errorf("bench: crs: %w", err)
	}
	f := &cryptoFederation{params: params}
	ckg := make([][]byte, n)
	for i := range n {
		sk, err := params.NewSecretShare()
		if err != nil {
			return nil, fmt.Errorf("bench: secret share: %w", err)
		}
		if ckg[i], err = params.CKGShare(sk, crs); err != nil {
			return nil, fmt.Errorf("bench: ckg share: %w", err)
		}
		f.shares = append(f.shares, sk)
	}
	pk, err := params.CombineCKG(crs, ckg)
	if err != nil {
		return nil, fmt.Errorf("bench: collective key: %w", err)
	}
	if f.enc, err = params.NewEncryptor(pk); err != nil {
		return nil, fmt.Errorf("bench: encryptor: %w", err)
	}
	if f.rk, f.rpk, err = params.NewReceiverKey(); err != nil {
		return nil, fmt.Errorf("bench: receiver key: %w", err)
	}
	return f, nil
}

// cryptoParty is one party's protocol objects, used by one goroutine.
type cryptoParty struct {
	enc *crypto.Encryptor
	dec *crypto.Decrypter
	ks  *crypto.KeySwitcher
}

func (f *cryptoFederation) parties() ([]cryptoParty, error) {
	out := make([]cryptoParty, len(f.shares))
	for i, sk := range f.shares {
		dec, err := f.params.NewDecrypter(sk)
		if err != nil {
			return nil, fmt.Errorf("bench: decrypter: %w", err)
		}
		ks, err := f.params.NewKeySwitcher(sk)
		if err != nil {
			return nil, fmt.Errorf("bench: key switcher: %w", err)
		}
		out[i] = cryptoParty{enc: f.enc.ShallowCopy(), dec: dec, ks: ks}
	}
	return out, nil
}

// CryptoSteps are the wall-clock times of one crypto-only query, in ms.
type CryptoSteps struct {
	EncryptCounts float64 `json:"encrypt_counts"`
	SumCounts     float64 `json:"sum_counts"`
	DecShares     float64 `json:"decryption_shares"`
	OpenCounts    float64 `json:"open_counts"`
	EncryptValues float64 `json:"encrypt_values"`
	SumValues     float64 `json:"sum_values"`
	KeySwitch     float64 `json:"key_switch_shares"`
	Combine       float64 `json:"combine"`
	Decrypt       float64 `json:"decrypt"`
	Total         float64 `json:"total"`
}

// query runs the Lattigo operations of one two-phase query: every party
// encrypts its counts (in parallel), the sum, every party's decryption
// share of it (in parallel), opening the counts; every party encrypts its
// values (in parallel), the sum, every party's key-switch share towards
// the querier (in parallel), combining the shares and the querier's
// decryption. counts and values hold each party's vectors.
func (f *cryptoFederation) query(parties []cryptoParty, counts, values [][]int64) (CryptoSteps, error) {
	var st CryptoSteps
	start := time.Now()
	lap := func(d *float64, t time.Time) time.Time {
		now := time.Now()
		*d = ms(now.Sub(t))
		return now
	}
	eval := f.params.NewEvaluator()
	n := len(parties)

	t := time.Now()
	cts, err := parallelEncrypt(parties, counts)
	if err != nil {
		return st, err
	}
	t = lap(&st.EncryptCounts, t)
	sums, err := sumColumns(eval, cts)
	if err != nil {
		return st, err
	}
	t = lap(&st.SumCounts, t)
	decShares := make([][][]byte, len(sums)) // [ciphertext][party]
	for k := range decShares {
		decShares[k] = make([][]byte, n)
	}
	var g errgroup.Group
	for i, p := range parties {
		g.Go(func() error {
			for k, sum := range sums {
				sh, err := p.dec.Share(sum)
				if err != nil {
					return fmt.Errorf("bench: decryption share: %w", err)
				}
				decShares[k][i] = sh
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	t = lap(&st.DecShares, t)
	for k, sum := range sums {
		if _, err := f.params.CombineDecrypt(sum, decShares[k]); err != nil {
			return st, fmt.Errorf("bench: open counts: %w", err)
		}
	}
	t = lap(&st.OpenCounts, t)

	if cts, err = parallelEncrypt(parties, values); err != nil {
		return st, err
	}
	t = lap(&st.EncryptValues, t)
	if sums, err = sumColumns(eval, cts); err != nil {
		return st, err
	}
	t = lap(&st.SumValues, t)
	ksShares := make([][][]byte, len(sums))
	for k := range ksShares {
		ksShares[k] = make([][]byte, n)
	}
	for i, p := range parties {
		g.Go(func() error {
			for k, sum := range sums {
				sh, err := p.ks.Share(f.rpk, sum)
				if err != nil {
					return fmt.Errorf("bench: key-switch share: %w", err)
				}
				ksShares[k][i] = sh
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return st, err
	}
	t = lap(&st.KeySwitch, t)
	switched := make([]*crypto.Ciphertext, len(sums))
	for k, sum := range sums {
		if switched[k], err = f.params.CombineKeySwitch(sum, ksShares[k]); err != nil {
			return st, fmt.Errorf("bench: combine: %w", err)
		}
	}
	t = lap(&st.Combine, t)
	for _, ct := range switched {
		if _, err := f.rk.Decrypt(ct); err != nil {
			return st, fmt.Errorf("bench: decrypt: %w", err)
		}
	}
	lap(&st.Decrypt, t)
	st.Total = ms(time.Since(start))
	return st, nil
}

// parallelEncrypt encrypts every party's vector, parties in parallel, and
// returns the ciphertexts per party.
func parallelEncrypt(parties []cryptoParty, vecs [][]int64) ([][]*crypto.Ciphertext, error) {
	out := make([][]*crypto.Ciphertext, len(parties))
	var g errgroup.Group
	for i, p := range parties {
		g.Go(func() error {
			cts, err := p.enc.Encrypt(vecs[i])
			if err != nil {
				return fmt.Errorf("bench: encrypt: %w", err)
			}
			out[i] = cts
			return nil
		})
	}
	return out, g.Wait()
}

// sumColumns adds the k-th ciphertext of every party, for every k.
func sumColumns(eval *crypto.Evaluator, cts [][]*crypto.Ciphertext) ([]*crypto.Ciphertext, error) {
	sums := make([]*crypto.Ciphertext, len(cts[0]))
	col := make([]*crypto.Ciphertext, len(cts))
	for k := range sums {
		for i := range cts {
			col[i] = cts[i][k]
		}
		sum, err := eval.Sum(col)
		if err != nil {
			return nil, fmt.Errorf("bench: sum: %w", err)
		}
		sums[k] = sum
	}
	return sums, nil
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }
