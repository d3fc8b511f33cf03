print("followup: under construction")
