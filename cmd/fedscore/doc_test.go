package main

import (
	"os"
	"strings"
	"testing"
)

// TestDocListsCommands keeps the package doc's command overview in step
// with the command table.
func TestDocListsCommands(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		line := "//\t" + c.name + strings.Repeat(" ", max(13-len(c.name), 1)) + c.summary + "\n"
		if !strings.Contains(string(doc), line) {
			t.Errorf("doc.go does not list %q as %q", c.name, line)
		}
	}
}
