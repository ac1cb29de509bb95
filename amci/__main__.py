from amci.cli import main

raise SystemExit(main())
