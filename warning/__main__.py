from warning.lifeline import die_with_parent

die_with_parent()  # a job child of `ipwarn serve` (and its own children) dies with serve

from warning.cli import main  # noqa: E402

raise SystemExit(main())
