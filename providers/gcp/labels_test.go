package gcp

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSanitizeLabels(t *testing.T) {
	got := sanitizeLabels(map[string]string{
		"team":                   "payments",
		"app.kubernetes.io/name": "Web",
		"Env":                    "prod",
		"env":                    "staging",
		"9lives":                 "x",
		"long":                   strings.Repeat("v", 64),
		"ok-value":               "a.b",
	})
	wantLabels := map[string]string{
		"team":                   "payments",
		"app_kubernetes_io_name": "web",
		"env":                    "prod",
		"ok-value":               "a_b",
	}
	if d := cmp.Diff(wantLabels, got.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	wantNotes := []string{
		`label "9lives" refused: a GCP label key starts with a lowercase letter`,
		`label "Env" written as "env"`,
		`label "app.kubernetes.io/name" written as "app_kubernetes_io_name"`,
		`label "app.kubernetes.io/name": value "Web" written as "web"`,
		`label "env" refused: its GCP key "env" is another tag's`,
		`label "long" refused: value longer than 63 characters`,
		`label "ok-value": value "a.b" written as "a_b"`,
	}
	if d := cmp.Diff(wantNotes, got.Notes); d != "" {
		t.Errorf("notes (-want +got):\n%s", d)
	}
	for k, v := range got.Labels {
		if !validName.MatchString(strings.ReplaceAll(k, "_", "-")) || len(k) > maxLabel || len(v) > maxLabel {
			t.Errorf("label %q=%q breaks GCP's rules", k, v)
		}
	}
}

func TestSanitizeLabelsStopsAt64(t *testing.T) {
	tags := map[string]string{}
	for i := range 70 {
		tags["k"+string(rune('a'+i/26))+string(rune('a'+i%26))] = "v"
	}
	got := sanitizeLabels(tags)
	if len(got.Labels) != maxLabels || len(got.Notes) != 70-maxLabels {
		t.Errorf("%d labels and %d notes from 70 tags, want %d and %d", len(got.Labels), len(got.Notes), maxLabels, 70-maxLabels)
	}
}
