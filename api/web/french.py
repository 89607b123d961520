"""French for every English source string of the pages (see :mod:`.i18n` for why a dict).

Québec French: « courriel », « téléverser », the 24-hour clock. Keys are the English text
exactly as the pages write it; ``{fields}`` are kept.
"""

from __future__ import annotations

FRENCH: dict[str, str] = {
    # Frame, log-in, refusals
    "Language and session": "Langue et session",
    "Times are shown in {zone}.": "Les heures sont celles du fuseau {zone}.",
    "Privacy: who is in charge, your rights, the non-biometric alternative": (
        "Confidentialité : la personne responsable, vos droits, la solution non biométrique"
    ),
    "Rights request received": "Demande d'exercice d'un droit reçue",
    "Rights request answered": "Demande d'exercice d'un droit répondue",
    "Non-biometric alternative chosen": "Solution non biométrique choisie",
    "Regulator's order applied": "Ordonnance de l'organisme de réglementation appliquée",
    "Regulator's order lifted": "Ordonnance de l'organisme de réglementation levée",
    "the regulator ordered destruction": "la Commission a ordonné la destruction",
    "Log in": "Se connecter",
    "Log out": "Se déconnecter",
    "Your data and consents": "Vos données et vos consentements",
    "Compliance review": "Vérification de conformité",
    "Your subject token": "Votre jeton personnel",
    "Your reviewer API key": "Votre clé d'API de vérificateur",
    "The form expired; please try again.": "Le formulaire a expiré; veuillez réessayer.",
    "That secret does not open this area.": "Ce secret n'ouvre pas cet espace.",
    "Your subject token was given to you when you registered. It opens your own record only.": (
        "Votre jeton personnel vous a été remis à l'inscription. Il n'ouvre que votre propre"
        " dossier."
    ),
    "Not done": "Non effectué",
    "Details": "Détails",
    "Code": "Code",
    "Back": "Retour",
    # Dashboard
    "Dashboard": "Tableau de bord",
    "Overview": "Vue d'ensemble",
    "Access log": "Journal des accès",
    "Searches per day": "Recherches par jour",
    "Erasures": "Effacements",
    "Audit chain": "Chaîne d'audit",
    "Verified: {events} events, {checkpoints} signed checkpoints.": (
        "Vérifiée : {events} événements, {checkpoints} points de contrôle signés."
    ),
    "BROKEN at event {seq} ({events} events): the log was edited.": (
        "ROMPUE à l'événement {seq} ({events} événements) : le journal a été modifié."
    ),
    "Questions": "Questions",
    "Who searched, for whom, and when": "Qui a cherché qui, et quand",
    "How many searches per purpose per day": "Combien de recherches par finalité et par jour",
    "Which erasures happened this month, and do their receipts verify": (
        "Quels effacements ce mois-ci, et leurs reçus se vérifient-ils"
    ),
    "The whole access log, filtered": "Tout le journal des accès, filtré",
    "Consent ledger": "Registre des consentements",
    "Consents by purpose and status": "Consentements par finalité et par état",
    "Purpose": "Finalité",
    "Purposes": "Finalités",
    "Register of the biometric database": "Registre de la banque de caractéristiques biométriques",
    "Controller": "Responsable",
    "Declaration": "Déclaration",
    "reference": "référence",
    "not declared: matching is refused": "non déclarée : la comparaison est refusée",
    "Volunteers / templates": "Volontaires / gabarits",
    "Model": "Modèle",
    "Signing keys": "Clés de signature",
    "Downloads": "Téléchargements",
    # Access log
    "Filter": "Filtrer",
    "Volunteer (pseudonym)": "Volontaire (pseudonyme)",
    "any": "toutes",
    "anyone": "tout le monde",
    "anything": "tout",
    "Who": "Qui",
    "What": "Quoi",
    "When": "Quand",
    "Outcome": "Résultat",
    "From (day)": "Du (jour)",
    "To (day, included)": "Au (jour, inclus)",
    "Show": "Afficher",
    "Clear": "Effacer les filtres",
    "Events": "Événements",
    "{total} events match; page {page} of {pages}, newest first.": (
        "{total} événements correspondent; page {page} sur {pages}, les plus récents d'abord."
    ),
    "Download these events (CSV)": "Télécharger ces événements (CSV)",
    "Matching events": "Événements correspondants",
    "No event matches these filters.": "Aucun événement ne correspond à ces filtres.",
    "Pages": "Pages",
    "Newer": "Plus récents",
    "Older": "Plus anciens",
    "Volunteers": "Volontaires",
    "the system": "le système",
    "{n} details": "{n} détails",
    "Volunteer": "Volontaire",
    "Searches that returned this volunteer": "Recherches qui ont trouvé ce volontaire",
    "Searches that returned this volunteer, newest first": (
        "Recherches qui ont trouvé ce volontaire, les plus récentes d'abord"
    ),
    "No search has returned this volunteer.": "Aucune recherche n'a trouvé ce volontaire.",
    # Searches per day
    "Searches per day and purpose": "Recherches par jour et par finalité",
    "{first} to {last}": "Du {first} au {last}",
    "Searches done (identify and verify), by local day. Refused attempts are in the access log.": (
        "Recherches effectuées (identification et vérification), par jour local. Les tentatives"
        " refusées sont dans le journal des accès."
    ),
    "Download this table (CSV)": "Télécharger ce tableau (CSV)",
    "Searches per day (rows) and purpose (columns)": (
        "Recherches par jour (lignes) et par finalité (colonnes)"
    ),
    "Day": "Jour",
    "Total": "Total",
    # Erasures
    "Erasures of {month}": "Effacements de {month}",
    "Months": "Mois",
    "Previous month": "Mois précédent",
    "Next month": "Mois suivant",
    "Month": "Mois",
    "{n} erasures": "{n} effacements",
    "Every receipt verifies with the published key.": (
        "Chaque reçu se vérifie avec la clé publiée."
    ),
    "{bad} receipts do NOT verify with the published key.": (
        "{bad} reçus ne se vérifient PAS avec la clé publiée."
    ),
    "Download these receipts (JSON)": "Télécharger ces reçus (JSON)",
    "Erasures, oldest first": "Effacements, les plus anciens d'abord",
    "Why": "Pourquoi",
    "Templates destroyed": "Gabarits détruits",
    "Receipt": "Reçu",
    "verifies": "se vérifie",
    "does not verify": "ne se vérifie pas",
    "no receipt": "aucun reçu",
    "View and verify": "Voir et vérifier",
    "No erasure this month.": "Aucun effacement ce mois-ci.",
    "Erasure receipt": "Reçu d'effacement",
    "This receipt verifies: it was signed by the published key.": (
        "Ce reçu se vérifie : il a été signé par la clé publiée."
    ),
    "This receipt does NOT verify with the published key.": (
        "Ce reçu ne se vérifie PAS avec la clé publiée."
    ),
    "Erased": "Effacé",
    "Tombstone": "Pierre tombale",
    "Download receipt": "Télécharger le reçu",
    "Anyone can check it again, without access to this system:": (
        "N'importe qui peut le vérifier de nouveau, sans accès à ce système :"
    ),
    "The signed receipt": "Le reçu signé",
    "Back to the erasures": "Retour aux effacements",
    # Declaration and orders
    "Declaration and regulator's orders": "Déclaration et ordonnances de l'autorité",
    "In service": "En service",
    "yes": "oui",
    "no: matching is refused": "non : la comparaison est refusée",
    "Declared": "Déclarée",
    "{day} (reference {reference}), period {days} days, in service from {start}": (
        "{day} (référence {reference}), délai de {days} jours, en service à partir du {start}"
    ),
    "never": "jamais",
    "Register hash": "Empreinte du registre",
    "changed since the declaration: declare again": (
        "modifié depuis la déclaration : déclarez de nouveau"
    ),
    "Hosting": "Hébergement",
    "{country}, {region}, by {provider}": "{country}, {region}, par {provider}",
    "Regulator's orders": "Ordonnances de l'autorité",
    "Order": "Ordonnance",
    "Kind": "Type",
    "Recorded": "Enregistrée",
    "State": "État",
    "lifted {when}": "levée le {when}",
    "in force: enrolment and matching suspended": (
        "en vigueur : enregistrement et comparaison suspendus"
    ),
    "No regulator's order.": "Aucune ordonnance de l'autorité.",
    # Vocabulary: actions
    "Consent given": "Consentement donné",
    "Consent withdrawn": "Consentement retiré",
    "Consent ended (expiry or retention)": "Consentement terminé (expiration ou conservation)",
    "Photo enrolled": "Photo enregistrée",
    "Search (verify one person)": "Recherche (vérifier une personne)",
    "Search (identify among all)": "Recherche (identifier parmi tous)",
    "Data exported": "Données exportées",
    "Retention sweep": "Purge de conservation",
    "Key created": "Clé créée",
    "Key revoked": "Clé révoquée",
    "Register declared": "Registre déclaré",
    "Failed log-in": "Connexion refusée",
    "Purpose created": "Finalité créée",
    "Notice published": "Avis publié",
    "Volunteer registered": "Volontaire inscrit",
    "Volunteer's settings changed": "Réglages du volontaire modifiés",
    "Consent of a searched person": "Consentement d'une personne recherchée",
    "Refused": "Refusé",
    "Index reconciled": "Index réconcilié",
    "Chain checkpoint signed": "Point de contrôle signé",
    "Master key rotated": "Clé maîtresse renouvelée",
    "Templates re-keyed": "Gabarits rechiffrés",
    # Vocabulary: outcomes, reasons, statuses, roles
    "done": "effectué",
    "match": "correspondance",
    "no match": "aucune correspondance",
    "the person asked": "à la demande de la personne",
    "last consent withdrawn": "dernier consentement retiré",
    "consent expired": "consentement expiré",
    "retention period over": "durée de conservation écoulée",
    "no interaction for years": "aucune interaction depuis des années",
    "active": "actif",
    "withdrawn": "retiré",
    "expired": "expiré",
    "administrator": "administrateur",
    "portal": "portail",
    "researcher": "chercheur",
    "reviewer": "vérificateur",
    "volunteer": "volontaire",
    # Vocabulary: errors
    "Something in the form is missing or not in the expected form.": (
        "Il manque quelque chose dans le formulaire, ou une valeur n'a pas la forme attendue."
    ),
    "This file is not a photo we can read. Use a JPEG, PNG or WebP photo.": (
        "Ce fichier n'est pas une photo lisible. Utilisez une photo JPEG, PNG ou WebP."
    ),
    "This photo is too large. Use a smaller photo (a phone photo is fine).": (
        "Cette photo est trop lourde. Utilisez une photo plus petite (celle d'un téléphone"
        " convient)."
    ),
    "We found no face in this photo. Use a photo where your face is clearly visible.": (
        "Aucun visage trouvé sur cette photo. Utilisez une photo où votre visage est bien"
        " visible."
    ),
    "There is more than one face in this photo. Crop the photo so only you are in it.": (
        "Il y a plus d'un visage sur cette photo. Recadrez-la pour que vous seul y figuriez."
    ),
    "Your face is too small or blurred in this photo. Use a sharper, closer photo.": (
        "Votre visage est trop petit ou flou sur cette photo. Utilisez une photo plus nette,"
        " prise de plus près."
    ),
    "This request is against one of the rules.": "Cette demande va à l'encontre d'une règle.",
    "Your session has ended. Please log in again.": (
        "Votre session a pris fin. Veuillez vous reconnecter."
    ),
    "You may not do this here.": "Vous ne pouvez pas faire ceci ici.",
    "No active consent covers this.": "Aucun consentement actif ne couvre ceci.",
    "This consent has expired.": "Ce consentement a expiré.",
    "This consent was already withdrawn.": "Ce consentement a déjà été retiré.",
    "We could not find what you asked for.": "Nous n'avons pas trouvé ce que vous demandez.",
    "This record was erased. Nothing about it can be used again.": (
        "Ce dossier a été effacé. Rien de ce qui le concerne ne peut plus servir."
    ),
    "Too many requests. Please wait a minute and try again.": (
        "Trop de demandes. Attendez une minute, puis réessayez."
    ),
}
