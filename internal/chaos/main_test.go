package chaos

import (
	"testing"

	"github.com/tbschedule/tbschedule-go/internal/zktest"
)

func TestMain(m *testing.M) { zktest.Main(m) }
