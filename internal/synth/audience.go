package synth

import (
	"fmt"

	"github.com/fedscore/fedscore/dataset"
)

// Customer is one row of an audience table: a person by a number that
// fixes their mobile number, and what the default policy's cohort rule
// reads of them.
type Customer struct {
	// Person numbers the person: the same number at two partners is the
	// same mobile number (see Mobile).
	Person int
	// Spelling chooses how the partner wrote the number down (see Mobile).
	Spelling int
	// Consent is the marketing_analytics consent; Age the customer's age.
	Consent bool
	Age     float64
	// Tier is the city tier, "1" to "3".
	Tier string
	// Malformed, when set, replaces the number with text that is no
	// mobile number.
	Malformed bool
}

// Mobile returns person's mainland mobile number as the 13-digit
// normalised form 86 + 11 digits and, for spelling 0 to 3, the ways
// partners write it: as is, "+86 138-0000-0042", "0086 13800000042" and
// with full-width digits.
func Mobile(person, spelling int) (normalised, written string) {
	national := fmt.Sprintf("138%08d", person)
	switch spelling % 4 {
	case 1:
		written = fmt.Sprintf("+86 %s-%s-%s", national[:3], national[3:7], national[7:])
	case 2:
		written = "0086 " + national
	case 3:
		for _, r := range national {
			written += string(r - '0' + '０')
		}
	default:
		written = national
	}
	return "86" + national, written
}

// AudienceTable builds a partner's table for overlap queries: the mobile
// number in phone_number, age, city_tier, and the consent records of the
// marketing_analytics purpose.
func AudienceTable(customers []Customer) (*dataset.Table, error) {
	n := len(customers)
	phone := make([]string, n)
	age := make([]float64, n)
	tier := make([]string, n)
	consent := make([]bool, n)
	withdrawn := make([]bool, n)
	for i, c := range customers {
		_, phone[i] = Mobile(c.Person, c.Spelling)
		if c.Malformed {
			phone[i] = fmt.Sprintf("021-%08d", c.Person) // a landline
		}
		age[i], tier[i], consent[i] = c.Age, c.Tier, c.Consent
	}
	b := dataset.NewBuilder()
	b.AddCategory("phone_number", phone)
	b.AddNumber("age", age)
	b.AddCategory("city_tier", tier)
	b.AddBool("consent_marketing_analytics", consent, nil)
	b.AddBool("consent_withdrawn", withdrawn, nil)
	return b.Build()
}

// Audience returns consented adult customers for persons [from, to) in
// city tier tier, each written in spelling person mod 4.
func Audience(from, to int, tier string) []Customer {
	out := make([]Customer, 0, max(0, to-from))
	for p := from; p < to; p++ {
		out = append(out, Customer{Person: p, Spelling: p, Consent: true, Age: 30 + float64(p%40), Tier: tier})
	}
	return out
}
