from sim.apps.cli import main

main()
