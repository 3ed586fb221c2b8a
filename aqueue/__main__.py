from aqueue.cli import main

main()
