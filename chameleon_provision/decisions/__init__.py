"""The four decisions (requirements, image, node, lease): answer models, prompts, rules, checks."""
