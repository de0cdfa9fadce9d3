from trialport.cli import main

main()
