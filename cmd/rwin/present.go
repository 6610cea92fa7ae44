package main

import (
	"rwin/cmd/rwin/report"
)

// The report package's vocabulary under the names the command code uses.

var (
	shown  = report.Shown
	plural = report.Plural
	ms     = report.Millis
	label  = report.Label
)

const schemaVersion = report.SchemaVersion

type (
	summaryRecord = report.SummaryRecord
	fileResult    = report.Input
	flowRecord    = report.FlowRecord
)

func ptr[T any](v T) *T { return &v }
