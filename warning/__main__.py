from warning.cli import main

raise SystemExit(main())
