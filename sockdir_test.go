package main

import "testing"

func TestSockDirOwner(t *testing.T) {
	tests := []struct {
		name    string
		wantPID int
		wantOK  bool
	}{
		{"fluxlit-api-1234-567", 1234, true},
		{"fluxlit-api-1-x", 1, true},
		{"fluxlit-api-1234", 0, false},  // an older fluxlit's name: no pid
		{"fluxlit-api-1234-", 0, false}, // no random part
		{"fluxlit-api-0-5", 0, false},   // not a pid
		{"fluxlit-api--5", 0, false},    // no pid
		{"fluxlit-api-x1-5", 0, false},  // not a number
		{"fluxlit-upstream-1-2", 0, false},
	}
	for _, tt := range tests {
		pid, ok := sockDirOwner(tt.name)
		if pid != tt.wantPID || ok != tt.wantOK {
			t.Errorf("sockDirOwner(%q) = %d, %v; want %d, %v", tt.name, pid, ok, tt.wantPID, tt.wantOK)
		}
	}
}
