package dataset

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestRoles(t *testing.T) {
	const csv = "ID,AGE,BORN,JOINED\n1,35,1990-05-12,2020/01/02\n2,,19900512,1795514400\n3,70,1955-01-31T08:00:00+08:00,\n"
	tests := []struct {
		name, mapping string
		err           string
	}{
		{"age", "roles: {age: AGE}\n", ""},
		{"birth date", "columns: [{source: BORN, name: birth_date, type: date}, {source: JOINED, type: date}]\nroles: {birth_date: birth_date}\n", ""},
		{"unknown role", "roles: {gender: SEX}\n", `unknown role "gender"`},
		{"both", "roles: {age: AGE, birth_date: BORN}\n", "not both"},
		{"empty", "roles: {age: \"\"}\n", "roles.age: no column"},
		{"missing column", "roles: {age: age}\n", `roles.age names column "age", which the data does not have`},
		{"skipped column", "columns: [{source: AGE, skip: true}]\nroles: {age: AGE}\n", `names column "AGE"`},
		{"birth date as text", "roles: {birth_date: BORN}\n", "give a date column type: date"},
		{"unix seconds as a date", "columns: [{source: ID, type: date}, {source: BORN, type: date}]\nroles: {birth_date: BORN}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMapping([]byte(tt.mapping))
			if err == nil {
				var tab *Table
				tab, err = ReadCSV(strings.NewReader(csv), CSVOptions{Mapping: m})
				if err == nil && tt.name == "birth date" {
					born, _ := tab.Column("birth_date")
					joined, _ := tab.Column("JOINED")
					want := []float64{642470400, 642470400, -470793600}
					for i, w := range want {
						if born.Numbers[i] != w {
							t.Errorf("birth_date[%d] = %v, want %v", i, born.Numbers[i], w)
						}
					}
					if joined.Numbers[0] != 1577923200 || joined.Numbers[1] != 1795514400 || !math.IsNaN(joined.Numbers[2]) {
						t.Errorf("JOINED = %v", joined.Numbers)
					}
				}
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err != "" && (!errors.Is(err, ErrInvalidMapping) || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %v, want ErrInvalidMapping saying %q", err, tt.err)
			}
		})
	}
	// A date column holding something else is a type error naming the row.
	m, _ := ParseMapping([]byte("columns: [{source: AGE, type: date}]\n"))
	if _, err := ReadCSV(strings.NewReader("AGE\n1990-05-12\nsoon\n"), CSVOptions{Mapping: m}); !errors.Is(err, ErrTypeMismatch) || !strings.Contains(err.Error(), ` 3: column "AGE": `) {
		t.Errorf("bad date: %v", err)
	}
}
