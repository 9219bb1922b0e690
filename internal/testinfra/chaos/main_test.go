package chaos

import (
	"testing"

	"github.com/tbschedule/tbschedule-go/internal/testinfra/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }
