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
    "Candidate reviewed by a verifier": "Candidat examiné par un contrôleur des correspondances",
    "Review closed: the candidate's consent ended first": (
        "Examen clos : le consentement du candidat a pris fin avant"
    ),
    "verifier": "contrôleur des correspondances",
    "Personal data read by an operator": (
        "Renseignements personnels consultés par un membre du personnel"
    ),
    "Incident recorded": "Incident de confidentialité consigné",
    "Incident notified": "Incident de confidentialité déclaré",
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
    "Your reviewer API key": "Votre clé d'API de réviseur de conformité",
    "The form expired; please try again.": "Le formulaire a expiré; veuillez réessayer.",
    "That secret does not open this area.": "Ce secret n'ouvre pas cet espace.",
    "This record was erased on {when}. Nothing of your face is kept: no photo, no template,"
    " no key. Your erasure receipt can be fetched with the one-time code shown when you were"
    " erased.": (
        "Ce dossier a été effacé le {when}. Rien de votre visage n'est conservé : aucune photo,"
        " aucun gabarit, aucune clé. Votre reçu d'effacement peut être obtenu avec le code à"
        " usage unique affiché lors de l'effacement."
    ),
    "Not done": "Non effectué",
    "Details": "Détails",
    "Data set, as the calibration describes it": (
        "Jeu de données, tel que l'étalonnage le décrit (en anglais)"
    ),
    "{label}:": "{label} :",
    "{action} ({reason})": "{action} ({reason})",  # French spaces a colon: "Finalité : …"
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
    "BROKEN at event {seq} ({events} events): the log no longer matches what was signed.": (
        "ROMPUE à l'événement {seq} ({events} événements) : le journal ne correspond plus à ce"
        " qui a été signé."
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
    "{name} (no longer in force)": "{name} (plus en vigueur)",
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
    "{n} erasure": "{n} effacement",
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
    # Portal
    "Your area": "Votre espace",
    "My page": "Ma page",
    "My receipts": "Mes reçus",
    "My data": "Mes données",
    "Your consents": "Vos consentements",
    "You are known here by a pseudonym only; we do not hold your name.": (
        "Vous n'êtes connu ici que par un pseudonyme; nous ne détenons pas votre nom."
    ),
    "What you agreed to": "Ce que vous avez accepté",
    "Consent of {when}": "Consentement du {when}",
    "Ends on {until} at the latest.": "Prend fin le {until} au plus tard.",
    "Stop using my face for {purpose}": "Cesser d'utiliser mon visage pour {purpose}",
    "This is your last consent: stopping it erases everything we hold about you.": (
        "C'est votre dernier consentement : y mettre fin efface tout ce que nous détenons sur"
        " vous."
    ),
    "I understand that everything you hold about me will be erased.": (
        "Je comprends que tout ce que vous détenez sur moi sera effacé."
    ),
    "You have no consent in force: we use your face for nothing.": (
        "Vous n'avez aucun consentement en vigueur : nous n'utilisons votre visage pour rien."
    ),
    "Ended consents ({n})": "Consentements terminés ({n})",
    "Give consent": "Donner votre consentement",
    "What we do with your face (notice version {version})": (
        "Ce que nous faisons de votre visage (avis, version {version})"
    ),
    "Tick only what you agree to. Nothing is ticked for you, and you can stop each use at any"
    " time from this page.": (
        "Cochez seulement ce que vous acceptez. Rien n'est coché d'avance, et vous pouvez mettre"
        " fin à chaque utilisation en tout temps depuis cette page."
    ),
    "Uses of your face": "Utilisations de votre visage",
    "Kept at most {days} days. Legal basis: {basis}.": (
        "Conservé au plus {days} jours. Fondement juridique : {basis}."
    ),
    "For how long?": "Pour combien de temps ?",
    "{days} days": "{days} jours",
    "If the uses you tick are all kept for less time, your consent ends when the longest of"
    " them ends; your receipt gives the day.": (
        "Si les utilisations que vous cochez sont toutes conservées moins longtemps, votre"
        " consentement prend fin avec la plus longue d'entre elles; votre reçu en donne le jour."
    ),
    "This consent can last at most {days} days (a minor's less than an adult's): choose a"
    " shorter time.": (
        "Ce consentement peut durer au plus {days} jours (celui d'un mineur moins que celui d'un"
        " adulte) : choisissez une durée plus courte."
    ),
    "I consent to the ticked uses": "Je consens aux utilisations cochées",
    "No notice has been published yet, so no consent can be given.": (
        "Aucun avis n'a encore été publié; aucun consentement ne peut donc être donné."
    ),
    "Searches among everyone": "Recherches parmi tout le monde",
    "Searches among everyone (1:N) can find you, for the uses you agreed to.": (
        "Les recherches parmi tout le monde (1:N) peuvent vous trouver, pour les utilisations"
        " que vous avez acceptées."
    ),
    "Searches among everyone (1:N) cannot find you. Only you can change this.": (
        "Les recherches parmi tout le monde (1:N) ne peuvent pas vous trouver. Vous seul pouvez"
        " changer cela."
    ),
    "Stop searches from finding me": "Empêcher les recherches de me trouver",
    "Let searches find me": "Permettre aux recherches de me trouver",
    "Your photo": "Votre photo",
    "Photos are taken at the enrolment desk, where your identity is checked, under one of your"
    " consents.": (
        "Les photos sont prises au comptoir d'inscription, où votre identité est vérifiée, sous"
        " l'un de vos consentements."
    ),
    "Add your photo": "Ajouter votre photo",
    "Your photo was turned into an encrypted template; the photo itself was not kept.": (
        "Votre photo a été transformée en gabarit chiffré; la photo elle-même n'a pas été"
        " conservée."
    ),
    "One photo of you alone. It is turned into an encrypted template and the photo itself is"
    " not kept.": (
        "Une photo de vous seul. Elle est transformée en gabarit chiffré et la photo elle-même"
        " n'est pas conservée."
    ),
    "Under your consent of": "Sous votre consentement du",
    "Photo (JPEG, PNG or WebP)": "Photo (JPEG, PNG ou WebP)",
    "Upload my photo": "Téléverser ma photo",
    "Your data and receipts": "Vos données et vos reçus",
    "Every receipt you were given": "Tous les reçus qui vous ont été remis",
    "See everything we hold about you": "Voir tout ce que nous détenons sur vous",
    "Download it as JSON": "Le télécharger en JSON",
    "Erase everything": "Tout effacer",
    "Your photo templates, your key and your consents' link to you are destroyed at once; you"
    " get a signed receipt.": (
        "Vos gabarits, votre clé et le lien entre vos consentements et vous sont détruits"
        " immédiatement; vous recevez un reçu signé."
    ),
    "I understand this cannot be undone.": "Je comprends que c'est irréversible.",
    "Erase me": "M'effacer",
    "Tick at least one use to consent.": "Cochez au moins une utilisation pour consentir.",
    "Write your message, in at most 2000 characters.": (
        "Écrivez votre message, en 2000 caractères au plus."
    ),
    "Choose what your message is about from the list.": (
        "Choisissez dans la liste le sujet de votre message."
    ),
    "Write who receives it and the reference, each on one line of at most 200 characters,"
    " their country as two capital letters, and choose a ground from the list.": (
        "Indiquez qui la reçoit et la référence, chacun sur une ligne d'au plus 200 caractères,"
        " son pays en deux lettres majuscules, et choisissez un motif dans la liste."
    ),
    "Share your record with someone": "Transmettre votre dossier à quelqu'un",
    "Your passkey signs who receives it and where, on which ground and under which document."
    " They get"
    " your record, your consents and your photos' dates, never your face or its template. The"
    " sharing is listed in My data, and any later erasure receipt names them.": (
        "Votre clé d'accès signe qui le reçoit et où, pour quel motif et sous quel document. Ils"
        " reçoivent votre dossier, vos consentements et les dates de vos photos, jamais votre"
        " visage ni son gabarit. La transmission figure dans Mes données, et tout reçu"
        " d'effacement ultérieur les nomme."
    ),
    "Who receives your record": "Qui reçoit votre dossier",
    "On which ground": "Pour quel motif",
    "Reference of your authorisation or of their request": (
        "Référence de votre autorisation ou de leur demande"
    ),
    "Sign and download what they receive": "Signer et télécharger ce qu'ils reçoivent",
    "Ask a person, or complain": "Demander à une personne, ou porter plainte",
    "A person in charge answers within {days} days, free of charge. You may also complain to the"
    " Commission d'accès à l'information du Québec or your EU supervisory authority.": (
        "Une personne responsable répond dans les {days} jours, gratuitement. Vous pouvez aussi"
        " porter plainte auprès de la Commission d'accès à l'information du Québec ou de votre"
        " autorité de contrôle de l'UE."
    ),
    "Sent. The answer will appear here.": "Envoyé. La réponse s'affichera ici.",
    "Refused as {ground}. The reasons:": "Refusée : demande {ground}. Les motifs :",
    "You may complain about this refusal:": "Vous pouvez porter plainte contre ce refus :",
    "answer due by {when}": "réponse attendue au plus tard le {when}",
    "What about?": "À quel sujet ?",
    "Your message": "Votre message",
    "Send": "Envoyer",
    "A researcher asks to compare one photo with your record: is it you? Nothing happens unless"
    " you agree here, with the passkey you already have. Your agreement covers one comparison,"
    " with that photo only, for one purpose, by one researcher.": (
        "Un chercheur demande à comparer une photo avec votre dossier : est-ce bien vous ? Rien"
        " ne se passe sans votre accord, donné ici avec la clé d'accès que vous avez déjà. Votre"
        " accord couvre une comparaison, avec cette photo seulement, pour une fin, par un"
        " chercheur."
    ),
    "Sign with my passkey": "Signer avec ma clé d'accès",
    "I agree to this one comparison": "J'accepte cette comparaison",
    "What you are asked to agree to": "Ce à quoi on vous demande de consentir",
    "The notice you would sign for": "L'avis pour lequel vous signeriez",
    "Photo": "Photo",
    "I do not agree": "Je refuse",
    "You did not agree: nothing was signed, and nothing is done with this photo. You can close"
    " this page.": (
        "Vous avez refusé : rien n'a été signé, et rien n'est fait avec cette photo. Vous pouvez"
        " fermer cette page."
    ),
    "It can be used once, until:": "Il peut servir une fois, jusqu'au :",
    "The signed receipt (JSON)": "Le reçu signé (JSON)",
    "Alerts (last 24 hours)": "Alertes (dernières 24 heures)",
    "How your face is used, and who answers for it": (
        "Comment votre visage est utilisé, et qui en répond"
    ),
    "Who answers for it:": "Qui en répond :",
    "Where it comes from:": "D'où viennent ces données :",
    "How it is used:": "Comment il est utilisé :",
    "Who receives it:": "Qui les reçoit :",
    "Who receives it": "Qui les reçoit",
    "nobody as a rule": "personne en règle générale",
    "a person's data are disclosed only on one of the four grounds of BIPA 15(d): their consent,"
    " a financial transaction they asked for or authorised, a requirement of law, or a valid"
    " warrant or subpoena; each disclosure is recorded with its recipient, ground and document,"
    " and shown to the person in their access export": (
        "les données d'une personne ne sont communiquées que sur l'un des quatre fondements de la"
        " BIPA 15(d) : son consentement, une transaction financière qu'elle a demandée ou"
        " autorisée, une exigence de la loi, ou un mandat ou une assignation valide ; chaque"
        " communication est consignée avec son destinataire, son fondement et son document, et"
        " montrée à la personne dans l'export de ses données"),
    "Where it is kept:": "Où elles sont conservées :",
    "Your rights: stop each use at any time from this page; see, correct or erase what we hold;"
    " complain.": (
        "Vos droits : cesser chaque utilisation à tout moment depuis cette page; voir, faire"
        " corriger ou effacer ce que nous détenons; porter plainte."
    ),
    "How, and within what time": "Comment, et dans quel délai",
    "No researcher key shows an enumeration pattern.": (
        "Aucune clé de chercheur ne montre un schéma d'énumération."
    ),
    "{count} of {of} searches found no one: fishing with faces that are not in the gallery?": (
        "{count} recherches sur {of} n'ont trouvé personne : une pêche avec des visages absents"
        " de la galerie ?"
    ),
    "{count} of {of} searches refused: probing the gates?": (
        "{count} recherches sur {of} refusées : un sondage des contrôles ?"
    ),
    "verified against {count} different subjects: walking the pseudonyms?": (
        "vérification contre {count} personnes différentes : un parcours des pseudonymes ?"
    ),
    "{count} of {of} verify links asked for expired unsigned: asking which pseudonyms can"
    " still sign?": (
        "{count} liens de vérification demandés sur {of} ont expiré sans être signés : une"
        " recherche des pseudonymes qui peuvent encore signer ?"
    ),
    "Tick the box to confirm: this cannot be undone.": (
        "Cochez la case pour confirmer : c'est irréversible."
    ),
    # Last withdrawal
    "Erase everything?": "Tout effacer ?",
    "This is your last consent": "C'est votre dernier consentement",
    "Stopping {purpose} leaves no use of your face: everything we hold about you will be"
    " erased.": (
        "Mettre fin à {purpose} ne laisse aucune utilisation de votre visage : tout ce que nous"
        " détenons sur vous sera effacé."
    ),
    "Your photo templates and your key are destroyed at once.": (
        "Vos gabarits et votre clé sont détruits immédiatement."
    ),
    "Your consents stay as records, without any link to you.": (
        "Vos consentements restent comme preuves, sans aucun lien avec vous."
    ),
    "You are logged out; you get a signed receipt of the erasure to keep.": (
        "Vous êtes déconnecté; vous recevez un reçu signé de l'effacement à conserver."
    ),
    "Stop and erase everything": "Mettre fin et tout effacer",
    "Keep my consent": "Garder mon consentement",
    # Receipts
    "Consent recorded": "Consentement enregistré",
    "You agreed that we use your face for: {purposes}.": (
        "Vous avez accepté que nous utilisions votre visage pour : {purposes}."
    ),
    "You agreed that we use the face of the person you act for: {purposes}.": (
        "Vous avez accepté que nous utilisions le visage de la personne que vous représentez"
        " pour : {purposes}."
    ),
    "Given on {when}; it ends on {until} at the latest.": (
        "Donné le {when}; il prend fin le {until} au plus tard."
    ),
    "You chose {chosen}; it ends sooner, when the retention of its uses ends.": (
        "Vous aviez choisi le {chosen}; il prend fin plus tôt, quand la conservation de ses"
        " utilisations prend fin."
    ),
    "You chose {chosen}; it ends sooner, when the person comes of age (unless they consent"
    " in their own name before).": (
        "Vous aviez choisi le {chosen}; il prend fin plus tôt, quand la personne atteint l'âge"
        " du consentement (à moins qu'elle consente avant en son propre nom)."
    ),
    "Your receipt names who receives your data: {recipients}.": (
        "Votre reçu nomme qui reçoit vos données : {recipients}."
    ),
    "You can stop any of these uses at any time from your page.": (
        "Vous pouvez mettre fin à chacune de ces utilisations en tout temps depuis votre page."
    ),
    "Use stopped": "Utilisation arrêtée",
    "Stopped on {when}, at once.": "Arrêtée le {when}, immédiatement.",
    "Withdrawn on {when}, at once.": "Retiré le {when}, immédiatement.",
    "We no longer use your face for: {purposes}.": (
        "Nous n'utilisons plus votre visage pour : {purposes}."
    ),
    "We no longer use the face of the person you act for: {purposes}.": (
        "Nous n'utilisons plus le visage de la personne que vous représentez pour : {purposes}."
    ),
    "Still in force, as you chose: {kept}.": (
        "Toujours en vigueur, comme vous l'avez choisi : {kept}."
    ),
    "Everything erased": "Tout est effacé",
    "Everything we held about you is erased: your photo templates ({n}), your key, your"
    " consents' link to you, your access.": (
        "Tout ce que nous détenions sur vous est effacé : vos gabarits ({n}), votre clé, le lien"
        " entre vos consentements et vous, votre accès."
    ),
    "Everything we held about you is erased: your photo templates ({n}), your"
    " consents' link to you, your access.": (
        "Tout ce que nous détenions sur vous est effacé : vos gabarits ({n}), le lien entre vos"
        " consentements et vous, votre accès."
    ),
    "Asked on {asked}; no search could find you from {unsearchable}; destroyed on"
    " {destroyed}.": (
        "Demandé le {asked}; aucune recherche ne pouvait plus vous trouver dès le"
        " {unsearchable}; détruit le {destroyed}."
    ),
    "Consent ended, its photo templates destroyed": (
        "Consentement terminé, ses gabarits de photo détruits"
    ),
    "Your consent to {purposes} ended on {when}: {why}.": (
        "Votre consentement à {purposes} a pris fin le {when} : {why}."
    ),
    "The photo templates taken under it ({n}) were destroyed on {destroyed}.": (
        "Les gabarits de photo pris sous ce consentement ({n}) ont été détruits le {destroyed}."
    ),
    "Copies made before (backups, snapshots) can no longer be decrypted from {when}: the key"
    " that encrypted them there is destroyed then.": (
        "Les copies faites avant (sauvegardes, instantanés) ne peuvent plus être déchiffrées à"
        " partir du {when} : la clé qui les y chiffrait est alors détruite."
    ),
    "Your other consents and what they cover stay as they are.": (
        "Vos autres consentements et ce qu'ils couvrent restent tels quels."
    ),
    "the subject's record and templates under the consents still in force": (
        "le dossier de la personne et ses gabarits sous les consentements encore en vigueur"
    ),
    "Copies made before the erasure (backups, snapshots) can no longer be decrypted from"
    " {when}: the key that encrypts your data there is destroyed then.": (
        "Les copies faites avant l'effacement (sauvegardes, instantanés) ne peuvent plus être"
        " déchiffrées à partir du {when} : la clé qui y chiffre vos données est alors détruite."
    ),
    "Copies of the search index saved before the erasure ({n}) no longer open: their keys are"
    " destroyed.": (
        "Les copies de l'index de recherche enregistrées avant l'effacement ({n}) ne s'ouvrent"
        " plus : leurs clés sont détruites."
    ),
    "After the destruction: {statement}.": "Après la destruction : {statement}.",
    "Those your data were disclosed to are told of the erasure: {recipients}.": (
        "Ceux à qui vos données ont été communiquées sont informés de l'effacement :"
        " {recipients}."
    ),
    "You asked for it with your passkey: the receipt names the passkey that signed, by a keyed"
    " hash.": (
        "Vous l'avez demandé avec votre clé d'accès : le reçu désigne la clé d'accès qui l'a"
        " signé, par un hachage à clé."
    ),
    "This signed receipt names you only by a keyed hash of your pseudonym.": (
        "Ce reçu signé ne vous désigne que par un hachage à clé de votre pseudonyme."
    ),
    "This signed receipt names you by a keyed hash of your pseudonym, and by a salted hash"
    " whose salt comes with the file you download: with your pseudonym, it shows the receipt is"
    " yours (optinface receipt verify --pseudonym).": (
        "Ce reçu signé vous désigne par un hachage à clé de votre pseudonyme, et par un hachage"
        " salé dont le sel accompagne le fichier que vous téléchargez : avec votre pseudonyme,"
        " il montre que le reçu est le vôtre (optinface receipt verify --pseudonym)."
    ),
    "Kept on purpose, as the signed receipt states it: nothing of your face, only what proves"
    " that the erasure happened.": (
        "Conservé à dessein, comme l'indique le reçu signé : rien de votre visage, seulement ce"
        " qui prouve que l'effacement a eu lieu."
    ),
    "What remains after an erasure, and why": "Ce qui reste après un effacement, et pourquoi",
    # The erasure receipt's own words (consent.erasure.KEPT, consent.residue)
    "tombstone": "pierre tombale",
    "consent records without the subject": "consentements, sans la personne concernée",
    "disclosure records without the subject": (
        "communications de données, sans la personne concernée"
    ),
    "audit chain, naming the subject by salted hashes only": (
        "chaîne d'audit, qui ne désigne la personne que par des hachages salés"
    ),
    "audit chain; {unsealed} events from before salted hashes (migration 0019) still name the"
    " pseudonym": (
        "chaîne d'audit; {unsealed} événements antérieurs aux hachages salés (migration 0019)"
        " nomment encore le pseudonyme"
    ),
    "the database write-ahead log, which still holds old copies of the deleted pages, is"
    " checkpointed and truncated (at the latest on the next start-up)": (
        "le journal de transactions de la base de données, qui contient encore d'anciennes"
        " copies des pages supprimées, est reporté dans la base puis tronqué (au plus tard au"
        " prochain démarrage)"
    ),
    "PostgreSQL keeps the deleted rows' old versions in its table and index files until"
    " overwritten (vacuum frees the space without zeroing it), in its write-ahead log until"
    " recycled, on streaming replicas and in backups; their pseudonymous columns stay readable"
    " there, and the template they hold is encrypted under a subject key wrapped under epoch"
    " key keyEpoch, undecryptable from copiesUndecryptableAt": (
        "PostgreSQL conserve les anciennes versions des lignes supprimées dans ses fichiers de"
        " tables et d'index jusqu'à ce qu'elles soient écrasées (VACUUM libère l'espace sans le"
        " mettre à zéro), dans son journal de transactions jusqu'à son recyclage, sur les"
        " répliques en continu et dans les sauvegardes; leurs colonnes pseudonymes y restent"
        " lisibles, et le gabarit qu'elles contiennent est chiffré sous une clé de personne"
        " enveloppée sous la clé d'époque keyEpoch, indéchiffrable à partir de"
        " copiesUndecryptableAt"
    ),
    "Download it now: this page is the last one of your session.": (
        "Téléchargez-le maintenant : cette page est la dernière de votre session."
    ),
    "Print": "Imprimer",
    "It acts in your own name.": "Elle agit en votre propre nom.",
    "It acts as the holder of parental authority, for the person you act for.": (
        "Elle agit à titre de titulaire de l'autorité parentale, pour la personne que vous"
        " représentez."
    ),
    "Your session has ended. If the download fails, you can fetch the receipt once more,"
    " within a day, with this code:": (
        "Votre session a pris fin. Si le téléchargement échoue, vous pouvez obtenir le reçu une"
        " fois de plus, d'ici un jour, avec ce code :"
    ),
    "Fetch my erasure receipt with a code": "Obtenir mon reçu d'effacement avec un code",
    "Back to my page": "Retour à ma page",
    "Anyone can check it with the deployment's published key, without access to this system:": (
        "N'importe qui peut le vérifier avec la clé publiée du déploiement, sans accès à ce"
        " système :"
    ),
    "Show the signed JSON": "Afficher le JSON signé",
    "View": "Voir",
    "You have no receipt yet.": "Vous n'avez encore aucun reçu.",
    "Fetch your erasure receipt": "Obtenir votre reçu d'effacement",
    "The code shown when you were erased": "Le code affiché lors de votre effacement",
    "This code is wrong, expired or already used twice.": (
        "Ce code est erroné, expiré ou déjà utilisé deux fois."
    ),
    "The receipt kept for this code is not the one this service signed: it was changed"
    " after your erasure. It is not given to you, and this refusal is recorded in the audit"
    " log. Keep the receipt you downloaded when you were erased; you may complain to the"
    " regulator.": (
        "Le reçu conservé pour ce code n'est pas celui que ce service a signé : il a été"
        " modifié après votre effacement. Il ne vous est pas remis, et ce refus est consigné"
        " dans le journal d'audit. Gardez le reçu téléchargé lors de votre effacement ; vous"
        " pouvez porter plainte auprès de l'autorité de contrôle."
    ),
    # My data, privacy page
    "Everything we hold about you": "Tout ce que nous détenons sur vous",
    "Privacy": "Confidentialité",
    "Privacy: who answers for your face data": (
        "Confidentialité : qui répond des données de votre visage"
    ),
    "Person in charge": "Personne responsable",
    "Person in charge of personal information": (
        "Responsable de la protection des renseignements personnels"
    ),
    "Data protection officer": "Délégué à la protection des données",
    "EU representative": "Représentant dans l'UE",
    "none designated": "aucun désigné",
    "Governance policy": "Politique de gouvernance",
    "Privacy impact assessment": "Évaluation des facteurs relatifs à la vie privée",
    "Where the data are kept": "Où les données sont conservées",
    "You do not have to use your face": "Vous n'êtes pas obligé d'utiliser votre visage",
    "How long we keep it (public retention schedule)": (
        "Combien de temps nous les gardons (calendrier de conservation public)"
    ),
    "What for": "Pour quoi",
    "Kept at most": "Conservé au plus",
    "{days} days after consent": "{days} jours après le consentement",
    "Biometric data are never sold, leased, traded or otherwise used for profit.": (
        "Les données biométriques ne sont jamais vendues, louées, échangées ni autrement"
        " utilisées à des fins lucratives."
    ),
    "Your rights and how to exercise them": "Vos droits et comment les exercer",
    "Free of charge; every request is answered within {days} days.": (
        "Sans frais; chaque demande reçoit une réponse dans les {days} jours."
    ),
    "Right": "Droit",
    "How": "Comment",
    "Law": "Loi",
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
    "Transfers": "Transferts",
    "none: hosted in {country} ({region})": (
        "aucun : hébergement dans le pays {country} ({region})"
    ),
    "transferred to {country} ({region}), outside {area}; safeguards: {safeguards}": (
        "transfert vers le pays {country} ({region}), hors {area} ; garanties : {safeguards}"
    ),
    "transferred to {country} ({region}), outside {area}; no safeguard stated": (
        "transfert vers le pays {country} ({region}), hors {area} ; aucune garantie indiquée"
    ),
    # The areas a transfer leaves (consent.transfers.AREAS), as "hors {area}" reads them.
    "Québec": "du Québec",
    "the EEA": "de l'EEE",
    "Regulator's orders": "Ordonnances de l'autorité",
    "Order": "Ordonnance",
    "Kind": "Type",
    "suspend": "suspension",
    "destroy": "suspension et destruction des gabarits",
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
    "Consent ended (expiry, retention or coming of age)": (
        "Consentement terminé (expiration, conservation ou majorité)"
    ),
    "Photo enrolled": "Photo enregistrée",
    "Template replaced by a new photo (rectification)": (
        "Gabarit remplacé par une nouvelle photo (rectification)"
    ),
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
    "Text translated": "Texte traduit",
    "English": "anglais",
    "French": "français",
    "(in English only)": "(en anglais seulement)",
    "This notice exists only in another language ({language}): none was published in yours.": (
        "Cet avis n'existe que dans une autre langue ({language}) : aucun n'a été publié dans la"
        " vôtre."
    ),
    "Some texts of this form exist only in English: the operator has not translated them. They"
    " are marked “in English only”, and your receipt records it.": (
        "Certains textes de ce formulaire n'existent qu'en anglais : l'exploitant ne les a pas"
        " traduits. Ils sont marqués « en anglais seulement », et votre reçu le consigne."
    ),
    "The text you sign, as shown here: SHA-256 {sha}": (
        "Le texte que vous signez, tel qu'il est affiché ici : SHA-256 {sha}"
    ),
    "; the text signed was in {language} ({sha})": "; texte signé en {language} ({sha})",
    "What you read and signed": "Ce que vous avez lu et signé",
    "{n} text shown on consent forms has no French: French readers see it in English, marked as"
    " such (optinface texts list --missing).": (
        "{n} texte affiché sur les formulaires de consentement n'a pas de français : les"
        " lecteurs francophones le voient en anglais, marqué comme tel (optinface texts list"
        " --missing)."
    ),
    "{n} texts shown on consent forms have no French: French readers see them in English, marked"
    " as such (optinface texts list --missing).": (
        "{n} textes affichés sur les formulaires de consentement n'ont pas de français : les"
        " lecteurs francophones les voient en anglais, marqués comme tels (optinface texts list"
        " --missing)."
    ),
    "As the consent form showed it, in {language}: your passkey signed this text.": (
        "Tel que le formulaire de consentement l'a affiché, en {language} : votre clé d'accès a"
        " signé ce texte."
    ),
    "Shown in English only, for want of a translation ({n}):": (
        "Affiché en anglais seulement, faute de traduction ({n}) :"
    ),
    "The texts of this form changed since you opened it. Reload the page, read them again,"
    " then consent.": (
        "Les textes de ce formulaire ont changé depuis que vous l'avez ouvert. Rechargez la page,"
        " relisez-les, puis donnez votre consentement."
    ),
    "Retention policy published": "Politique de conservation publiée",
    "Privacy impact assessment recorded": (
        "Évaluation des facteurs relatifs à la vie privée consignée"
    ),
    "Volunteer registered": "Volontaire inscrit",
    "Volunteer's settings changed": "Réglages du volontaire modifiés",
    "Consent of a searched person": "Consentement d'une personne recherchée",
    "Refused": "Refusé",
    "Index reconciled": "Index réconcilié",
    "A worker's index reconciled with the ledger: its change feed had a gap or went back, or"
    " its index differed": (
        "Index d'un processus réconcilié avec le registre : son flux de changements avait un"
        " trou ou est revenu en arrière, ou son index différait"),
    "Access log rolled back (events lost: a restore?)":
        "Journal des accès ramené en arrière (événements perdus : une restauration ?)",
    "Access log rewritten: it no longer holds the events its witness signed": (
        "Journal des accès réécrit : il ne contient plus les événements signés auprès de son"
        " témoin"
    ),
    "Witness folder taken up in place of the lost one: erasures it did not hold cannot be"
    " replayed": (
        "Dossier témoin repris à la place de celui perdu : les effacements qu'il ne contenait"
        " pas ne peuvent être rejoués"
    ),
    "Passkeys, opt-ins, declarations, templates and keys sealed (once, after an upgrade)": (
        "Clés d'accès, inscriptions aux recherches, déclarations, gabarits et clés d'API"
        " scellés (une fois, après une mise à jour)"
    ),
    "Rows NOT sealed after an upgrade: the log differs from its witness": (
        "Lignes NON scellées après une mise à jour : le journal diffère de son témoin"
    ),
    "Rows sealed again by the operator, with the key store": (
        "Lignes scellées de nouveau par l'exploitant, avec le magasin de clés"
    ),
    "Admin keys' passkey bindings sealed (once, after an upgrade)": (
        "Liens entre les clés d'administration et leurs clés d'accès scellés (une fois, après une"
        " mise à jour)"
    ),
    "Admin keys' passkey bindings NOT sealed after an upgrade: the log differs from its"
    " witness": (
        "Liens entre les clés d'administration et leurs clés d'accès NON scellés après une mise à"
        " jour : le journal diffère de son témoin"
    ),
    "Subjects' declared ages sealed (once, after an upgrade)": (
        "Âges déclarés des personnes scellés (une fois, après une mise à jour)"
    ),
    "Declared ages NOT sealed after an upgrade: the log differs from its witness": (
        "Âges déclarés NON scellés après une mise à jour : le journal diffère de son témoin"
    ),
    "People's API tokens sealed (once, after an upgrade)": (
        "Jetons d'API des personnes scellés (une fois, après une mise à jour)"
    ),
    "People's API tokens NOT sealed after an upgrade: the log differs from its witness": (
        "Jetons d'API des personnes NON scellés après une mise à jour : le journal diffère de"
        " son témoin"
    ),
    "Whether each subject was enrolled before sealed (once, after an upgrade)": (
        "Inscription antérieure de chaque personne scellée (une fois, après une mise à jour)"
    ),
    "Whether subjects were enrolled before NOT sealed after an upgrade: the log differs from"
    " its witness": (
        "Inscription antérieure des personnes NON scellée après une mise à jour : le journal"
        " diffère de son témoin"
    ),
    "Subjects enrolled before written in the witness folder's journal (once, after an"
    " upgrade)": (
        "Personnes déjà inscrites consignées dans le journal du dossier témoin (une fois, après"
        " une mise à jour)"
    ),
    "Subjects enrolled before NOT written in the witness folder's journal after an upgrade:"
    " the log differs from its witness": (
        "Personnes déjà inscrites NON consignées dans le journal du dossier témoin après une"
        " mise à jour : le journal diffère de son témoin"
    ),
    "A subject's status is not one the service writes (edited in the database)": (
        "Le statut d'une personne n'est pas l'un de ceux que le service écrit (modifié dans la"
        " base de données)"
    ),
    "Triggers, rules or row security on the ledger's tables changed (made by hand: no erasure"
    " receipt is signed while any is there)": (
        "Déclencheurs, règles ou sécurité par ligne changés sur les tables du registre (faits à"
        " la main : aucun reçu d'effacement n'est signé tant qu'il en reste)"
    ),
    "Log events from before keyed seals vouched for (once, after an upgrade)": (
        "Événements du journal antérieurs aux sceaux à clé reconnus (une fois, après une mise à"
        " jour)"
    ),
    "Log events from before keyed seals NOT vouched for: the log differs from its witness": (
        "Événements du journal antérieurs aux sceaux à clé NON reconnus : le journal diffère de"
        " son témoin"
    ),
    "Access log cut behind the running service: events it wrote are gone": (
        "Journal d'accès tronqué derrière le service en marche : des événements qu'il a écrits"
        " ont disparu"),
    "Host clock set back: events dated no earlier than the newest": (
        "Horloge de l'hôte reculée : événements datés au plus tôt du plus récent"),
    "Log events without the service's keyed seal (written with the database alone)": (
        "Événements du journal sans le sceau à clé du service (écrits par la seule base de"
        " données)"
    ),
    "Witnessed log events sealed again by the operator, with the key store": (
        "Événements du journal attestés par le témoin scellés de nouveau par l'exploitant, avec"
        " le magasin de clés"
    ),
    "Access events emptied by the retention period (which, and why)": (
        "Événements d'accès vidés au terme de leur durée de conservation (lesquels, et"
        " pourquoi)"
    ),
    "Access events emptied before prune records vouched for (once, after an upgrade)": (
        "Événements d'accès vidés avant les relevés d'élagage reconnus (une fois, après une"
        " mise à jour)"
    ),
    "Erasure asked, already done by another (answered with its receipt)": (
        "Effacement demandé, déjà effectué par un autre (réponse avec son reçu)"
    ),
    "Erasure not finished (kept unsearchable; the next sweep tries again)": (
        "Effacement inachevé (exclu des recherches, repris au prochain balayage)"
    ),
    "Chain checkpoint signed": "Point de contrôle signé",
    "Key epoch rotated (copies made before unreadable)":
        "Époque de clés renouvelée (copies antérieures illisibles)",
    "Receipt key replaced (the old one retired, still checking what it signed before)":
        "Clé des reçus remplacée (l'ancienne retirée, vérifiant encore ce qu'elle a signé"
        " avant)",
    "Receipt key replacement found in the key store, not in the log (its commit failed):"
    " chained at start":
        "Remplacement de la clé des reçus trouvé dans le magasin de clés, absent du journal"
        " (sa validation a échoué) : chaîné au démarrage",
    "Old key epochs destroyed (a rotation finished at start)":
        "Anciennes époques de clés détruites (renouvellement achevé au démarrage)",
    "Key epoch dated after its sealed rotation (edited?): rotated on the sealed schedule":
        "Époque de clés datée après son renouvellement scellé (modifiée ?) : renouvelée selon"
        " le calendrier scellé",
    "Key epoch length raised past what erasure receipts promised: this epoch still ends as"
    " promised":
        "Durée des époques de clés allongée au-delà de ce que promettaient des reçus"
        " d'effacement : cette époque finit comme promis",
    "Subject keys lost (a copy restored from before a rotation)":
        "Clés de personnes perdues (copie restaurée d'avant un renouvellement)",
    "Subject keys renewed (made before destructions renewed them)":
        "Clés de personnes renouvelées (créées avant que les destructions les renouvellent)",
    "Passkey challenge issued": "Défi de clé d'accès émis",
    "Templates re-keyed": "Gabarits rechiffrés",
    "Data disclosed to a recipient": "Données communiquées à un destinataire",
    "Use refused: a consent wider than its signed receipt (edited?)":
        "Utilisation refusée : un consentement plus large que son reçu signé (modifié ?)",
    "Erasure receipt not served: not the one signed (edited?)":
        "Reçu d'effacement non remis : ce n'est pas celui qui fut signé (modifié ?)",
    # Vocabulary: outcomes, reasons, statuses, roles
    "done": "effectué",
    "candidates for review": "candidats à examiner",
    "no candidate": "aucun candidat",
    "the person asked": "à la demande de la personne",
    "last consent withdrawn": "dernier consentement retiré",
    "you withdrew it": "vous l'avez retiré",
    "consent expired": "consentement expiré",
    "came of age without consenting in their own name": (
        "majorité atteinte sans consentement en son propre nom"
    ),
    "retention period over": "durée de conservation écoulée",
    "no interaction for years": "aucune interaction depuis des années",
    "active": "actif",
    "withdrawn": "retiré",
    "expired": "expiré",
    "erased": "effacé",
    "administrator": "administrateur",
    "portal": "portail",
    "researcher": "chercheur",
    "reviewer": "réviseur de conformité",
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
    "No consent in force covers this purpose: this record cannot be compared with a photo"
    " for it.": (
        "Aucun consentement en vigueur ne couvre cette fin : ce dossier ne peut pas être comparé"
        " à une photo pour elle."
    ),
    "We could not find what you asked for.": "Nous n'avons pas trouvé ce que vous demandez.",
    "This record was erased. Nothing about it can be used again.": (
        "Ce dossier a été effacé. Rien de ce qui le concerne ne peut plus servir."
    ),
    "Too many requests. Please wait a minute and try again.": (
        "Trop de demandes. Attendez une minute, puis réessayez."
    ),
    "The service has paused: it cannot keep its independent record of what is done here,"
    " and does nothing until it can. Please try again later. If you are signed in, you can"
    " still withdraw your consent or have your data erased.": (
        "Le service est en pause : il ne peut pas tenir le registre indépendant de ce qui s'y"
        " fait, et ne fait rien tant qu'il ne le peut pas. Réessayez plus tard. Si votre session"
        " est ouverte, vous pouvez toujours retirer votre consentement ou faire effacer vos"
        " données."
    ),
    "This link was already used, has expired or is incomplete. Ask whoever gave it to you"
    " for a new one.": (
        "Ce lien a déjà servi, a expiré ou est incomplet. Demandez-en un nouveau à la personne"
        " qui vous l'a remis."
    ),
    "A passkey already exists for this record. Sign in with it; if it is lost, ask a person"
    " for a new link.": (
        "Une clé d'accès existe déjà pour ce dossier. Connectez-vous avec elle; si elle est"
        " perdue, demandez un nouveau lien à une personne."
    ),
    "Only the person, or the holder of parental authority, may do this, with their own"
    " passkey.": (
        "Seule la personne, ou le titulaire de l'autorité parentale, peut faire ceci, avec sa"
        " propre clé d'accès."
    ),
    "You chose the way without your face: no photo of you is used.": (
        "Vous avez choisi la voie sans votre visage : aucune photo de vous n'est utilisée."
    ),
    "This could not be done. Please try again later, or ask a person for help.": (
        "Cela n'a pas pu être fait. Réessayez plus tard, ou demandez de l'aide à une personne."
    ),
    "Demo mode": "Mode démonstration",
    "adult (18 or older)": "adulte (18 ans ou plus)",
    "16 or 17 years old": "16 ou 17 ans",
    "15 years old": "15 ans",
    "14 years old": "14 ans",
    "13 years old": "13 ans",
    "under 13": "moins de 13 ans",
    "Check: {fields}.": "Vérifiez : {fields}.",
    "Your device did not make or give the passkey: the request was cancelled, took too long, or"
    " this device holds no passkey for this site. Try again, or use the device where you created"
    " your passkey.": (
        "Votre appareil n'a pas créé ou fourni la clé d'accès : la demande a été annulée, a pris"
        " trop de temps, ou cet appareil ne détient aucune clé d'accès pour ce site. Réessayez,"
        " ou utilisez l'appareil où vous avez créé votre clé d'accès."
    ),
    "This did not get through. Check your connection, then try again.": (
        "Cela n'a pas abouti. Vérifiez votre connexion, puis réessayez."
    ),
    "This browser cannot use passkeys. Open the page in an up-to-date browser on your phone or"
    " computer.": (
        "Ce navigateur ne peut pas utiliser de clés d'accès. Ouvrez la page dans un navigateur à"
        " jour sur votre téléphone ou votre ordinateur."
    ),
    "Choose a photo first.": "Choisissez d'abord une photo.",
    # Passkeys: the person's own acts, captures, probe consents, researcher keys (issue 11)
    (
        'A researcher asks to search for the person in one photo: you. Nothing happens '
        'unless you agree here, on your own device. Your agreement covers one search, '
        'with that photo only, for one purpose, by one researcher.'
    ): (
        "Un chercheur demande à rechercher la personne d'une photo : vous. Rien ne se "
        'fait sans votre accord, donné ici, sur votre propre appareil. Votre accord vaut '
        'pour une seule recherche, avec cette photo seulement, pour une seule fin, par un'
        ' seul chercheur.'
    ),
    'A search with your photo': 'Une recherche avec votre photo',
    'API token issued to the person': "Jeton d'API remis à la personne",
    'API token revoked by the person': "Jeton d'API révoqué par la personne",
    'Approve this photo': 'Approuver cette photo',
    'Your other photos': 'Vos autres photos',
    'Keep them all: add this photo': 'Les garder toutes : ajouter cette photo',
    'Replace the photo of {when} (template {id}), which is then destroyed': (
        'Remplacer la photo du {when} (gabarit {id}), qui est alors détruit'
    ),
    'It replaces your template {id}, which is then destroyed.': (
        'Elle remplace votre gabarit {id}, qui est alors détruit.'
    ),
    'Approved: the desk may now upload that photo, and no other.': (
        'Approuvée : le comptoir peut maintenant téléverser cette photo, et aucune autre.'
    ),
    'Asked for their own consent (came of age)': (
        'Consentement personnel demandé (majorité atteinte)'
    ),
    'Back to your page': 'Retour à votre page',
    'Consent asked of a searched person': 'Consentement demandé à une personne recherchée',
    'Continue': 'Continuer',
    'Create an API token for my own use': "Créer un jeton d'API pour mon propre usage",
    'Your API tokens': "Vos jetons d'API",
    'Revoked: no one can use it any more.': "Révoqué : personne ne peut plus s'en servir.",
    'Each token that can act for you now, the passkey that issued it and the last day it was'
    ' used. Revoke any you did not make, no longer use, or see used on a day you did not use'
    ' it: it stops working at once.': (
        "Chaque jeton qui peut agir pour vous maintenant, la clé d'accès qui l'a remis et le"
        " dernier jour où il a servi. Révoquez ceux que vous n'avez pas créés, dont vous ne vous"
        " servez plus, ou qui ont servi un jour où vous ne vous en êtes pas servi : ils cessent"
        " aussitôt de fonctionner."),
    'this session (log out to end it)': 'cette session (déconnectez-vous pour y mettre fin)',
    'Created {when}, expires {until}.': 'Créé le {when}, expire le {until}.',
    'Issued by your passkey {name}.': "Remis par votre clé d'accès {name}.",
    'Issued before the passkey was recorded.': "Remis avant que la clé d'accès ne soit notée.",
    'Last used on {day} (UTC).': 'Dernière utilisation le {day} (UTC).',
    'No use recorded yet.': "Aucune utilisation notée pour l'instant.",
    'Revoke this token': 'Révoquer ce jeton',
    'Revoke all my tokens but this session': 'Révoquer tous mes jetons sauf cette session',
    'Your passkey signs it. Whoever holds the token can erase you and copy your face templates'
    ' until it expires: keep it as you keep your passkey.': (
        "Votre clé d'accès le signe. Quiconque détient ce jeton peut vous effacer et copier vos"
        " gabarits de visage jusqu'à son expiration : gardez-le comme votre clé d'accès."
    ),
    'Create my passkey': "Créer ma clé d'accès",
    'Create your passkey': "Créez votre clé d'accès",
    'Created': 'Créée',
    'Created by': 'Créée par',
    (
        'Each of your choices below is signed with your passkey on your device; your '
        'receipts hold that signature, so anyone can check it was you.'
    ): (
        "Chacun de vos choix ci-dessous est signé avec votre clé d'accès, sur votre "
        "appareil; vos reçus contiennent cette signature, si bien que n'importe qui peut "
        "vérifier que c'était vous."
    ),
    'Enrolment link issued': "Lien d'inscription remis",
    (
        'Every researcher key, when and by whom it was created, and when it was revoked: a '
        'revoked key searches no more. The daily search quota holds per key and per purpose: '
        'more keys do not mean more searches.'
    ): (
        'Chaque clé de chercheur, avec sa date de création, son auteur et sa date de '
        'révocation : une clé révoquée ne fait plus de recherches. Le quota quotidien de '
        'recherches vaut par clé et par fin : plus de clés ne donnent pas plus de recherches.'
    ),
    'Revoked on': 'Révoquée le',
    'still valid': 'encore valide',
    'I agree to this one search': "J'accepte cette seule recherche",
    'Key': 'Clé',
    'No researcher key has been created.': "Aucune clé de chercheur n'a été créée.",
    'Passkey registered': "Clé d'accès enregistrée",
    'Photo approved by the person': 'Photo approuvée par la personne',
    'Photos waiting for your approval': 'Photos en attente de votre approbation',
    'Researcher key': 'Clé du chercheur',
    'Researcher keys': 'Clés de chercheurs',
    'Shown once. It opens your own record only; keep it secret.': (
        "Affiché une seule fois. Il n'ouvre que votre propre dossier; gardez-le secret."
    ),
    'Sign in to your page': 'Vous connecter à votre page',
    'Sign in with my passkey': "Me connecter avec ma clé d'accès",
    (
        'Sign in with the passkey you created from your enrolment link. It stays on your '
        'device: nobody here, staff included, can use it for you.'
    ): (
        "Connectez-vous avec la clé d'accès créée à partir de votre lien d'inscription. "
        "Elle reste sur votre appareil : personne ici, personnel compris, ne peut s'en "
        'servir à votre place.'
    ),
    'Signed in with a passkey': "Connexion avec une clé d'accès",
    "Thank you. Keep this receipt: it holds your passkey's signature.": (
        "Merci. Conservez ce reçu : il contient la signature de votre clé d'accès."
    ),
    (
        'The enrolment desk took these photos of you. Approve one only if it is yours: '
        'the desk can then upload that photo, and no other.'
    ): (
        "Le comptoir d'inscription a pris ces photos de vous. N'en approuvez une que si "
        "c'est bien vous : le comptoir pourra alors téléverser cette photo, et aucune "
        'autre.'
    ),
    'The holder of parental authority must do this, with their passkey.': (
        "Le titulaire de l'autorité parentale doit le faire, avec sa clé d'accès."
    ),
    "Your declared age was changed outside this service: no one can consent for you until"
    " the organisation has checked it.": (
        "Votre âge déclaré a été modifié hors de ce service : personne ne peut consentir pour"
        " vous tant que l'organisation ne l'a pas vérifié."
    ),
    (
        'This one-time link lets you create a passkey on this device (a phone, a '
        'computer, a security key). From now on, only this passkey can give or withdraw '
        'your consent, let searches find you or approve a photo of you: nobody else, '
        'staff included, can do it in your name.'
    ): (
        "Ce lien à usage unique vous permet de créer une clé d'accès sur cet appareil (un"
        ' téléphone, un ordinateur, une clé de sécurité). Dès lors, seule cette clé peut '
        'donner ou retirer votre consentement, permettre aux recherches de vous trouver '
        "ou approuver une photo de vous : personne d'autre, personnel compris, ne peut le"
        ' faire en votre nom.'
    ),
    "Your record was changed outside this service and cannot be used now. Please tell the"
    " organisation; you can still withdraw your consent or have your data erased.": (
        "Votre dossier a été modifié en dehors de ce service et ne peut pas être utilisé pour"
        " l'instant. Veuillez le signaler à l'organisation ; vous pouvez toujours retirer votre"
        " consentement ou faire effacer vos données."
    ),
    'This photo is not of the same person as your other photos.': (
        "Cette photo n'est pas de la même personne que vos autres photos."
    ),
    "A photo of you was enrolled before and none is left to compare a new one with: a new"
    " photo of you is enrolled at the enrolment desk, where your identity is checked.": (
        "Une photo de vous a déjà été enregistrée et il n'en reste aucune à laquelle comparer la"
        " nouvelle : une nouvelle photo de vous est enregistrée au comptoir d'inscription, où"
        " votre identité est vérifiée."
    ),
    'This request expired or was already used. Please try again.': (
        'Cette demande a expiré ou a déjà servi. Veuillez réessayer.'
    ),
    'Valid until {until}.': "Valide jusqu'au {until}.",
    "You signed in while this service could not have its audit log witnessed. For this"
    " session you can only withdraw, opt out of search, erase your record, revoke your tokens"
    " or log out; sign in again later for anything else.": (
        "Vous vous êtes connecté alors que ce service ne pouvait pas faire attester son journal"
        " d'audit. Pendant cette session, vous pouvez seulement retirer un consentement, vous"
        " retirer de la recherche, effacer votre dossier, révoquer vos jetons ou vous"
        " déconnecter; reconnectez-vous plus tard pour le reste."
    ),
    "You signed in while the audit log could not be witnessed: this session can only"
    " withdraw, opt out, erase or log out. Log out and sign in again later for this.": (
        "Vous vous êtes connecté alors que le journal d'audit ne pouvait pas être attesté :"
        " cette session peut seulement retirer un consentement, vous retirer de la recherche,"
        " effacer votre dossier ou se déconnecter. Déconnectez-vous et reconnectez-vous plus"
        " tard pour cela."
    ),
    "can only end processing": "peut seulement mettre fin au traitement",
    'You act as the holder of parental authority for this person.': (
        "Vous agissez comme titulaire de l'autorité parentale de cette personne."
    ),
    'You already have as many photos as allowed.': 'Vous avez déjà autant de photos que permis.',
    'The photo this one was to replace is not yours under this consent any more.': (
        "La photo que celle-ci devait remplacer n'est plus la vôtre sous ce consentement."
    ),
    "They are outside the area whose law protects you: the controller must first assess sending"
    " your data there. Ask a person below for the reference of that assessment, then write it"
    " in its field.": (
        "Ce destinataire est hors du territoire dont la loi vous protège : le responsable doit"
        " d'abord évaluer l'envoi de vos données. Demandez-nous ci-dessous la référence de cette"
        " évaluation, puis inscrivez-la dans son champ."
    ),
    "Only if they are outside Québec or the EEA: the reference of the controller's assessment": (
        "Seulement s'ils sont hors du Québec ou de l'EEE : la référence de l'évaluation du"
        " responsable"
    ),
    "Their country (two-letter code, e.g. CA)": "Son pays (code à deux lettres, p. ex. CA)",
    "Kept outside Québec or the EEA": "Conservées hors du Québec ou de l'EEE",
    "Kept outside Québec or the EEA:": "Conservé hors du Québec ou de l'EEE :",
    "Their province or state": "Sa province ou son État",
    (
        'You have reached the age of consent: please give your consent in your own name, '
        'with your own passkey.'
    ): (
        "Vous avez atteint l'âge du consentement : veuillez donner votre consentement en "
        "votre propre nom, avec votre propre clé d'accès."
    ),
    (
        "The consent of the holder of parental authority ends on {when}: the photos still "
        "enrolled under it are destroyed then, unless you consent in your own name to all its "
        "uses before."
    ): (
        "Le consentement du titulaire de l'autorité parentale prend fin le {when} : les photos "
        "encore inscrites en vertu de celui-ci sont alors détruites, à moins que vous ne "
        "consentiez avant en votre propre nom à toutes ses utilisations."
    ),
    'Your API token': "Votre jeton d'API",
    'Your passkey': "Votre clé d'accès",
    'Your passkey does not hold parental authority.': (
        "Votre clé d'accès ne détient pas l'autorité parentale."
    ),
    'Your passkey is ready.': "Votre clé d'accès est prête.",
    "Your passkey signs the photo's fingerprint (SHA-256): only that photo can be enrolled.": (
        "Votre clé d'accès signe l'empreinte (SHA-256) de la photo : seule cette photo "
        'peut être inscrite.'
    ),
    "Your passkey's answer could not be checked. Please try again.": (
        "La réponse de votre clé d'accès n'a pas pu être vérifiée. Veuillez réessayer."
    ),
    "This passkey was not registered through this service: it cannot act for anyone here."
    " Ask a person for a new link.": (
        "Cette clé d'accès n'a pas été enregistrée par ce service : elle ne peut agir pour"
        " personne ici. Demandez un nouveau lien à une personne."
    ),
    # "My data": the access export as people read it (api/web/export.py)
    "Data held about {pseudonym}": "Données détenues à votre sujet ({pseudonym})",
    "Generated on {when} by {controller} ({contact}).": (
        "Produit le {when} par {controller} ({contact})."
    ),
    "Who answers for your data": "Qui répond de vos données",
    "You": "Vous",
    "Status": "État",
    "Age bracket": "Tranche d'âge",
    "Rules that apply": "Règles applicables",
    "Québec (Law 25)": "Québec (Loi 25)",
    "European Union (GDPR)": "Union européenne (RGPD)",
    "Illinois (BIPA)": "Illinois (BIPA)",
    "Austria (GDPR)": "Autriche (RGPD)",
    "Belgium (GDPR)": "Belgique (RGPD)",
    "Bulgaria (GDPR)": "Bulgarie (RGPD)",
    "Cyprus (GDPR)": "Chypre (RGPD)",
    "Czechia (GDPR)": "Tchéquie (RGPD)",
    "Germany (GDPR)": "Allemagne (RGPD)",
    "Denmark (GDPR)": "Danemark (RGPD)",
    "Estonia (GDPR)": "Estonie (RGPD)",
    "Spain (GDPR)": "Espagne (RGPD)",
    "Finland (GDPR)": "Finlande (RGPD)",
    "France (GDPR)": "France (RGPD)",
    "Greece (GDPR)": "Grèce (RGPD)",
    "Croatia (GDPR)": "Croatie (RGPD)",
    "Hungary (GDPR)": "Hongrie (RGPD)",
    "Ireland (GDPR)": "Irlande (RGPD)",
    "Italy (GDPR)": "Italie (RGPD)",
    "Lithuania (GDPR)": "Lituanie (RGPD)",
    "Luxembourg (GDPR)": "Luxembourg (RGPD)",
    "Latvia (GDPR)": "Lettonie (RGPD)",
    "Malta (GDPR)": "Malte (RGPD)",
    "Netherlands (GDPR)": "Pays-Bas (RGPD)",
    "Poland (GDPR)": "Pologne (RGPD)",
    "Portugal (GDPR)": "Portugal (RGPD)",
    "Romania (GDPR)": "Roumanie (RGPD)",
    "Sweden (GDPR)": "Suède (RGPD)",
    "Slovenia (GDPR)": "Slovénie (RGPD)",
    "Slovakia (GDPR)": "Slovaquie (RGPD)",
    "United Kingdom (UK GDPR)": "Royaume-Uni (UK GDPR)",
    "Searches among everyone can find you": (
        "Les recherches parmi toutes les personnes peuvent vous trouver"
    ),
    "Registered on": "Inscription le",
    "Last interaction": "Dernière interaction",
    "Consents ({n})": "Consentements ({n})",
    "Consent to {uses}": "Consentement pour {uses}",
    "{status}; notice {version} ({sha}); given by {who} on {when}; ends on {until}": (
        "{status}; avis {version} ({sha}); donné par {who} le {when}; prend fin le {until}"
    ),
    "; retention policy {sha}": " ; politique de conservation {sha}",
    "the holder of parental authority": "le titulaire de l'autorité parentale",
    "Passkeys that act for you ({n})": "Clés d'accès qui agissent pour vous ({n})",
    "a passkey of the holder of parental authority": (
        "une clé d'accès du titulaire de l'autorité parentale"
    ),
    "your own passkey": "votre propre clé d'accès",
    "you": "vous",
    "; withdrawn on {when}": "; retiré le {when}",
    "; ends on {when}; a consent in your own name to all its uses, given before, takes over"
    " its photos": (
        "; prend fin le {when} ; un consentement en votre propre nom à toutes ses utilisations,"
        " donné avant, reprend ses photos"
    ),
    "Face templates ({n})": "Gabarits du visage ({n})",
    "Template {id}": "Gabarit {id}",
    "model {model}, quality {quality}, made on {when}, under consent {consent}": (
        "modèle {model}, qualité {quality}, créé le {when}, sous le consentement {consent}"
    ),
    "{description} ({basis}; kept at most {days} days)": (
        "{description} ({basis}; conservé au plus {days} jours)"
    ),
    "Recipients": "Destinataires",
    "none": "aucun",
    "no one receives your data": "personne ne reçoit vos données",
    "no one receives your data as a rule; only the disclosures below, each on a ground the law"
    " allows": ("personne ne reçoit vos données en règle générale ; seulement les communications"
                " ci-dessous, chacune sur un fondement que la loi permet"),
    "Where your data come from": "D'où viennent vos données",
    "Source": "Source",
    "Retention": "Conservation",
    "until {when} ({rule})": "jusqu'au {when} ({rule})",
    "How faces are compared": "Comment les visages sont comparés",
    "Threshold": "Seuil",
    "{value} (calibrated for a false-match rate of {fmr})": (
        "{value} (étalonné pour un taux de fausses correspondances de {fmr})"
    ),
    "not calibrated: searches are refused": "non étalonné : les recherches sont refusées",
    "False non-match rate": "Taux de fausses non-correspondances",
    "Searches that involved you ({n})": "Recherches qui vous ont concerné ({n})",
    " (score {score})": " (score {score})",
    ", verifiers {verifiers}": ", contrôleurs {verifiers}",
    ", by {key} ({role})": ", par {key} ({role})",
    ", for {purpose}": ", pour {purpose}",
    "; the caller declared it would base a decision about you on this search (automated"
    " processing): you may ask for the information and factors used, have them rectified, and"
    " submit your observations to a person who can review it (see your rights)": (
        "; l'appelant a déclaré qu'il fonderait une décision vous concernant sur cette recherche"
        " (traitement automatisé) : vous pouvez demander les renseignements et les facteurs"
        " utilisés, les faire rectifier et présenter vos observations à une personne en mesure"
        " de la réviser (voir vos droits)"
    ),
    "refused ({reason})": "refusée ({reason})",
    "awaiting verifiers": "en attente des contrôleurs",
    "rejected by verifiers": "rejeté par les contrôleurs",
    "closed unreviewed: your consent ended first": (
        "clos sans examen : votre consentement a pris fin avant"
    ),
    "Your requests ({n})": "Vos demandes ({n})",
    "{kind}, received on {received}, due on {due}: {status}": (
        "{kind}, reçue le {received}, réponse due le {due} : {status}"
    ),
    "Events ({n})": "Événements ({n})",
    "Your data disclosed ({n})": "Vos données communiquées ({n})",
    "on {when}, on the ground of {basis} (document {reference})": (
        "le {when}, sur le fondement de : {basis} (document {reference})"
    ),
    "recipient in {place}": "destinataire situé : {place}",
    "outside {area}, under {assessment}": "hors {area}, sous {assessment}",
    "your consent": "votre consentement",
    "a financial transaction you asked for": "une transaction financière que vous avez demandée",
    "required by law": "exigée par la loi",
    "a warrant or subpoena": "un mandat ou une assignation",
    "no": "non",
    # "My data": a copy of the templates themselves, the person's own choice
    "A copy of your face templates": "Une copie de vos gabarits faciaux",
    "What is shown above, and the JSON download, say which templates we hold, not the"
    " templates themselves. A template is the list of 512 numbers our model computed from your"
    " photo; you may have a copy.": (
        "Ce qui précède, comme le téléchargement en JSON, indique quels gabarits nous détenons,"
        " pas les gabarits eux-mêmes. Un gabarit est la liste de 512 nombres que notre modèle a"
        " calculée à partir de votre photo; vous pouvez en obtenir une copie."
    ),
    "Anyone who has this copy and the same publicly available model can recognise you in other"
    " photos, in any system, for as long as the copy exists, and it cannot be changed like a"
    " password. Keep it like an identity document and give it only to someone you agree may"
    " recognise you.": (
        "Quiconque détient cette copie et le même modèle, accessible au public, peut vous"
        " reconnaître sur d'autres photos, dans n'importe quel système, tant que la copie existe,"
        " et elle ne peut pas être changée comme un mot de passe. Conservez-la comme une pièce"
        " d'identité et ne la remettez qu'à une personne dont vous acceptez qu'elle puisse vous"
        " reconnaître."
    ),
    "I understand that anyone with this file can recognise my face.": (
        "Je comprends que quiconque détient ce fichier peut reconnaître mon visage."
    ),
    "Download it as JSON with my templates": "Le télécharger en JSON avec mes gabarits",
    ", with a copy of your templates ({n})": ", avec une copie de vos gabarits ({n})",
    "Tick the box to confirm that you understand what a copy of your templates allows.": (
        "Cochez la case pour confirmer que vous comprenez ce que permet une copie de vos"
        " gabarits."
    ),
    # The consent core's prose (consent/access.py, matching.py, accountability.py,
    # declaration.py): the JSON keeps the English, the pages show this.
    "you: the photos you (or the holder of parental authority) submitted at enrolment; photos"
    " are discarded once the template is made": (
        "vous : les photos que vous (ou le titulaire de l'autorité parentale) avez fournies à"
        " l'inscription; les photos sont supprimées dès que le gabarit est créé"
    ),
    "everything held about you": "tout ce que nous détenons à votre sujet",
    "{years} years after your last interaction at most": (
        "au plus {years} ans après votre dernière interaction"
    ),
    "consent {consent_id} and its templates": "le consentement {consent_id} et ses gabarits",
    "the consent's expiry or its purposes' retention, whichever comes first": (
        "l'échéance du consentement ou la durée de conservation de ses fins, selon la première"
        " des deux"
    ),
    "the consent's expiry, its purposes' retention or {days} days after you reach the age of"
    " consent, whichever comes first; a consent in your own name to all its uses, given"
    " before, takes over its templates": (
        "l'échéance du consentement, la durée de conservation de ses fins ou {days} jours après"
        " que vous atteignez l'âge du consentement, selon la première de ces dates ; un"
        " consentement en votre propre nom à toutes ses utilisations, donné avant, reprend ses"
        " gabarits"
    ),
    "identified (confirmed by verifiers)": "identifié (confirmé par les contrôleurs)",
    "not reviewed": "non examiné",
    "your photo becomes a 512-number template (ArcFace); a probe photo is compared by cosine"
    " similarity with the templates of people who consented to the search's purpose; only"
    " scores at or above the threshold are candidates, and a candidate is never a decision on"
    " its own": (
        "votre photo devient un gabarit de 512 nombres (ArcFace); une photo recherchée est"
        " comparée par similarité cosinus aux gabarits des personnes qui ont consenti à la fin"
        " de la recherche; seuls les scores égaux ou supérieurs au seuil donnent des candidats,"
        " et un candidat n'est jamais une décision à lui seul"
    ),
    "until consent expires or is withdrawn (erased in the same call)": (
        "jusqu'à l'échéance ou au retrait du consentement (effacement dans la même opération)"
    ),
    "at most each purpose's retention period after consent": (
        "au plus la durée de conservation de chaque fin après le consentement"
    ),
    "at most {years} years after the last interaction": (
        "au plus {years} ans après la dernière interaction"
    ),
    "consents last at most {days} days": "un consentement dure au plus {days} jours",
    "a minor's consent (by the declared age, never the face) lasts at most {minor_days} days": (
        "le consentement d'une personne mineure (selon l'âge déclaré, jamais selon le visage)"
        " dure au plus {minor_days} jours"
    ),
    "a consent given by the holder of parental authority ends {grace_days} days after the"
    " person reaches the age of consent; a consent in their own name to all its uses, given"
    " before, takes over its templates": (
        "un consentement donné par le titulaire de l'autorité parentale prend fin {grace_days}"
        " jours après que la personne atteint l'âge du consentement ; un consentement donné"
        " avant en son propre nom à tous ses usages en reprend les gabarits"
    ),
    "Illinois (BIPA s. 15(a)): destroyed when the purpose is met or 3 years after the last"
    " interaction, whichever comes first": (
        "Illinois (BIPA, art. 15(a)) : détruites lorsque la fin est atteinte ou 3 ans après la"
        " dernière interaction, selon la première des deux"
    ),
    "biometric data are never sold, leased, traded or otherwise used for profit": (
        "les données biométriques ne sont jamais vendues, louées, échangées ni autrement"
        " utilisées à des fins lucratives"
    ),
    "a probe (the photo searched with), its template and its scores are never stored: they"
    " live for the request only": (
        "une photo de recherche, son gabarit et ses scores ne sont jamais conservés : ils ne"
        " vivent que le temps de la requête"
    ),
    "proof of consents, withdrawals and erasures is kept {receipt_years} years after the consent"
    " ends or the erasure, then deleted; an erasure deletes at once the receipts that name the"
    " person, keeping the signed erasure receipt and the consent records without their name": (
        "la preuve des consentements, des retraits et des effacements est conservée"
        " {receipt_years} ans après la fin du consentement ou l'effacement, puis supprimée; un"
        " effacement supprime aussitôt les reçus qui nomment la personne, et garde le reçu"
        " d'effacement signé et les consentements sans leur nom"
    ),
    "requests and complaints, with their answers, are kept {receipt_years} years after they"
    " were answered, then deleted": (
        "les demandes et les plaintes, avec leurs réponses, sont conservées {receipt_years} ans"
        " après leur réponse, puis supprimées"
    ),
    "the access log is kept whole, without biometric data": (
        "le journal des accès est conservé en entier, sans donnée biométrique"
    ),
    "the access log's entries lose their content {log_days} days after they are written (their"
    " chained hashes stay, so the log can still be verified)": (
        "les entrées du journal des accès perdent leur contenu {log_days} jours après leur"
        " écriture (leurs empreintes chaînées restent : le journal reste vérifiable)"
    ),
    "the access log is kept whole, without biometric data, under an investigation hold:"
    " {log_hold}": (
        "le journal des accès est conservé en entier, sans donnée biométrique, en raison d'une"
        " enquête : {log_hold}"
    ),
    "the access log's entries lose their content {log_days} days after they are written (their"
    " chained hashes stay, so the log can still be verified), under an investigation hold:"
    " {log_hold}": (
        "les entrées du journal des accès perdent leur contenu {log_days} jours après leur"
        " écriture (leurs empreintes chaînées restent : le journal reste vérifiable), en raison"
        " d'une enquête : {log_hold}"
    ),
    "How long we keep it (retention policy, signed with your consent)": (
        "Combien de temps nous les conservons (politique de conservation, signée avec votre"
        " consentement)"
    ),
    "Version": "Version",
    "Version first published on {date}: each consent signs it.": (
        "Version publiée pour la première fois le {date} : chaque consentement la signe."
    ),
    "Every version": "Toutes les versions",
    "access": "accès",
    "portability": "portabilité",
    "rectification": "rectification",
    "withdrawal": "retrait du consentement",
    "erasure": "effacement",
    "de-indexation": "désindexation",
    "human review and observations": "révision par une personne et observations",
    "complaint": "plainte",
    "the portal's \"My data\" page, or GET /v1/subjects/{{pseudonym}}/export with your subject"
    " token (JSON, Markdown or HTML), at any time and free; or write to {contact}": (
        "la page « Mes données » du portail, ou GET /v1/subjects/{{pseudonym}}/export avec votre"
        " jeton (JSON, Markdown ou HTML), en tout temps et gratuitement; ou écrivez à {contact}"
    ),
    "the portal's \"Download it as JSON\" (My data), or GET"
    " /v1/subjects/{{pseudonym}}/export?format=json with your subject token: everything we hold"
    " about you in a structured, commonly used, machine-readable format, at any time and free;"
    " your face templates themselves only if you ask, signed in yourself (\"Download it as JSON"
    " with my templates\", or &vectors=true); to have it sent to another organisation, write"
    " to {contact}": (
        "« Le télécharger en JSON » (Mes données) dans le portail, ou GET"
        " /v1/subjects/{{pseudonym}}/export?format=json avec votre jeton : tout ce que nous"
        " détenons sur vous dans un format structuré, couramment utilisé et lisible par machine,"
        " en tout temps et gratuitement; vos gabarits faciaux eux-mêmes seulement si vous le"
        " demandez, connecté vous-même (« Le télécharger en JSON avec mes gabarits », ou"
        " &vectors=true); pour le faire transmettre à un autre organisme, écrivez à {contact}"
    ),
    "enrol a new photo under your consent (the old template can be erased), or write to"
    " {contact}": (
        "inscrivez une nouvelle photo sous votre consentement (l'ancien gabarit peut être"
        " effacé), ou écrivez à {contact}"
    ),
    "POST /v1/subjects/{{pseudonym}}/consents/{{id}}/withdraw (one purpose only:"
    " .../consents/{{id}}/purposes/{{purpose}}/withdraw), or the portal's \"Stop using my face"
    " for...\" buttons: one step, signed with your passkey, effective at once": (
        "les boutons « Cesser d'utiliser mon visage pour… » du portail, ou POST"
        " /v1/subjects/{{pseudonym}}/consents/{{id}}/withdraw (une seule fin :"
        " .../consents/{{id}}/purposes/{{purpose}}/withdraw) : une seule étape, signée avec"
        " votre clé d'accès, effet immédiat"
    ),
    "DELETE /v1/subjects/{{pseudonym}}, or the portal: a signed receipt is returned": (
        "le portail, ou DELETE /v1/subjects/{{pseudonym}} : un reçu signé vous est remis"
    ),
    "the portal's search switch, or PATCH /v1/subjects/{{pseudonym}} signed with your passkey:"
    " out of every search at once": (
        "l'interrupteur de recherche du portail, ou PATCH /v1/subjects/{{pseudonym}} signé avec"
        " votre clé d'accès : retiré de toute recherche immédiatement"
    ),
    "write to {contact}: a person reviews any outcome that concerns you": (
        "écrivez à {contact} : une personne révise tout résultat qui vous concerne"
    ),
    "POST /v1/subjects/{{pseudonym}}/requests with kind \"complaint\" (answered within 30"
    " days), or write to {contact}; or to the Commission d'accès à l'information du Québec or"
    " your EU supervisory authority": (
        "POST /v1/subjects/{{pseudonym}}/requests avec le type « complaint » (réponse dans les 30"
        " jours), ou écrivez à {contact}; ou à la Commission d'accès à l'information du Québec ou"
        " à votre autorité de contrôle de l'UE"
    ),
    # The demonstration's placeholder settings (an operator's own values are shown as written)
    "Privacy officer (placeholder)": "Responsable de la protection (à remplacer)",
    "Person in charge of the protection of personal information": (
        "Personne responsable de la protection des renseignements personnels"
    ),
    "PIA-0000 (not yet written)": "PIA-0000 (pas encore rédigée)",
    "(placeholder) not chosen": "(à remplacer) non choisi",
    "(placeholder) describe how a person is served without their face": (
        "(à remplacer) décrivez comment une personne est servie sans son visage"
    ),
    "What remains after an erasure": "Ce qui reste après un effacement",
    "Nothing of your face: no photo, no template, no key. What remains proves that the erasure"
    " happened, as the law asks us to be able to show (P-39.1 s. 28; GDPR arts. 5(2) and 17),"
    " and names no one:": (
        "Rien de votre visage : aucune photo, aucun gabarit, aucune clé. Ce qui reste prouve que"
        " l'effacement a eu lieu, comme la loi nous demande de pouvoir le démontrer (P-39.1,"
        " art. 28; RGPD, art. 5(2) et 17), et ne nomme personne :"
    ),
    "a tombstone: a keyed hash of your pseudonym, the reason and the time, and the signed"
    " erasure receipt;": (
        "une pierre tombale : un hachage à clé de votre pseudonyme, le motif et l'heure, et le"
        " reçu d'effacement signé;"
    ),
    "keyed hashes of the identifiers of your passkeys, so that signing in with one later tells"
    " you that your record was erased and when, rather than refusing you without a reason;": (
        "des hachages à clé des identifiants de vos clés d'accès, pour qu'une connexion"
        " ultérieure avec l'une d'elles vous dise que votre dossier a été effacé et quand,"
        " plutôt que de vous refuser sans raison;"
    ),
    "a keyed hash of the one-time code that fetches your erasure receipt again, for one day"
    " and two downloads;": (
        "un hachage à clé du code à usage unique qui permet d'obtenir de nouveau votre reçu"
        " d'effacement, pendant un jour et pour deux téléchargements;"
    ),
    "the records of what was disclosed of your data, without your name, when there were any,"
    " so that their recipients are told of the erasure;": (
        "les communications de vos données, sans votre nom, s'il y en a eu, pour que leurs"
        " destinataires soient informés de l'effacement;"
    ),
    "your past consents without your name, as proof that past processing had a legal basis,"
    " and the audit log, whose entries now lead to no one.": (
        "vos consentements passés sans votre nom, comme preuve que les traitements passés"
        " avaient un fondement légal, et le journal d'audit, dont les entrées ne mènent plus à"
        " personne."
    ),
    "candidate ({status}), not an identification": "candidat ({status}), pas une identification",
    "P-39.1 s. 27; GDPR art. 15": "P-39.1, art. 27; RGPD, art. 15",
    "P-39.1 s. 27; GDPR art. 20": "P-39.1, art. 27; RGPD, art. 20",
    "P-39.1 s. 28; GDPR art. 16": "P-39.1, art. 28; RGPD, art. 16",
    "P-39.1 s. 9.1, 14; GDPR art. 7(3)": "P-39.1, art. 9.1 et 14; RGPD, art. 7(3)",
    "P-39.1 s. 28; GDPR art. 17": "P-39.1, art. 28; RGPD, art. 17",
    "P-39.1 s. 28.1": "P-39.1, art. 28.1",
    "P-39.1 s. 12.1; GDPR art. 22": "P-39.1, art. 12.1; RGPD, art. 22",
    "P-39.1 s. 3.2; GDPR art. 77": "P-39.1, art. 3.2; RGPD, art. 77",
    "{action}: {outcome}": "{action} : {outcome}",
    "Instead of your face: the non-biometric alternative": (
        "Au lieu de votre visage : la solution non biométrique"
    ),
    # The regulator's side of the dashboard: rights requests and incidents
    "Rights requests (answer within {days} days)": (
        "Demandes d'exercice d'un droit (réponse dans les {days} jours)"
    ),
    "Request": "Demande",
    "Received": "Reçue",
    "Due": "Échéance",
    "{when}, OVERDUE": "{when}, EN RETARD",
    "answered {when}": "répondue le {when}",
    "open": "ouverte",
    "answered": "répondue",
    "refused": "refusée",
    "manifestly unfounded": "manifestement infondée",
    "manifestly excessive": "manifestement excessive",
    "refused {when} as {ground}": "refusée le {when} : demande {ground}",
    "{when}, due soon": "{when}, échéance proche",
    "Rights request {id} ({kind}): answer by {when}.": (
        "Demande {id} ({kind}) : répondre au plus tard le {when}."
    ),
    "Rights request {id} ({kind}): OVERDUE since {when}.": (
        "Demande {id} ({kind}) : EN RETARD depuis le {when}."
    ),
    "No rights request recorded.": "Aucune demande d'exercice d'un droit consignée.",
    "Confidentiality incidents (notify within {hours} hours)": (
        "Incidents de confidentialité (à déclarer dans les {hours} heures)"
    ),
    "Incident": "Incident",
    "Aware": "Connu le",
    "Notify the regulator by": "À déclarer à la Commission au plus tard le",
    "OVERDUE by {hours} h": "EN RETARD de {hours} h",
    "{hours} h left": "encore {hours} h",
    "Risk of serious injury": "Risque de préjudice sérieux",
    "Persons": "Personnes",
    "unknown": "inconnu",
    "about {n}": "environ {n}",
    "Regulator notified": "Commission avisée",
    "Persons notified": "Personnes avisées",
    "Notices": "Avis",
    "The register is kept at least {years} years (each incident's keep-until date is in the"
    " API).": (
        "Le registre est conservé au moins {years} ans (la date de fin de conservation de chaque"
        " incident est dans l'API)."
    ),
    "No incident recorded.": "Aucun incident consigné.",
    # The notices of an incident (consent/incidents.py), to the Commission and to the persons
    "# Notice of a confidentiality incident to the regulator ({incident_id})": (
        "# Avis à la Commission d'un incident de confidentialité ({incident_id})"
    ),
    "- **Enterprise**: {name} ({contact})": "- **Entreprise** : {name} ({contact})",
    "- **Contact**: {contact}": "- **Personne à joindre** : {contact}",
    "{name}, {title}, {contact}; DPO {dpo}": (
        "{name}, {title}, {contact}; délégué à la protection des données : {dpo}"
    ),
    "- **Personal information concerned**: {categories}": (
        "- **Renseignements personnels visés** : {categories}"
    ),
    "- **Description**: {description}": "- **Description** : {description}",
    "- **Circumstances and cause**: {circumstances}": (
        "- **Circonstances et cause** : {circumstances}"
    ),
    "- **When**: {period}; became aware {aware}": (
        "- **Quand** : {period}; prise de connaissance le {aware}"
    ),
    "{start} to {end}": "du {start} au {end}",
    "from {start}, end unknown": "depuis le {start}, fin inconnue",
    "- **Persons concerned**: {persons}": "- **Personnes concernées** : {persons}",
    ", of whom {count} in Québec": ", dont {count} au Québec",
    "- **Risk of serious injury**: {answer}; {assessment}": (
        "- **Risque de préjudice sérieux** : {answer}; {assessment}"
    ),
    "- **Measures taken**: {measures}": "- **Mesures prises** : {measures}",
    "- **Notification of the regulator**: {timing}": "- **Avis à la Commission** : {timing}",
    "due by {deadline}, 72 hours after awareness": (
        "à donner au plus tard le {deadline}, 72 heures après la prise de connaissance"
    ),
    "to be given when the notification is recorded (delay_reason)": (
        "à donner quand l'avis sera consigné (delay_reason)"
    ),
    "{at}, {hours} h after awareness": "{at}, {hours} h après la prise de connaissance",
    "none recorded (notified before the reasons were kept)": (
        "aucun motif consigné (avis donné avant que les motifs ne soient conservés)"
    ),
    "{when}; late, past the 72 hours; reasons for the delay: {reasons}": (
        "{when}; en retard, après les 72 heures; motifs du retard : {reasons}"
    ),
    "- **Notice to the persons**: {when}": "- **Avis aux personnes** : {when}",
    "not yet sent": "pas encore envoyé",
    "# A confidentiality incident concerning your information": (
        "# Un incident de confidentialité concernant vos renseignements personnels"
    ),
    "- **What happened**: {description} ({circumstances})": (
        "- **Ce qui s'est passé** : {description} ({circumstances})"
    ),
    "- **When**: {period}": "- **Quand** : {period}",
    "- **Your information concerned**: {categories}": (
        "- **Vos renseignements visés** : {categories}"
    ),
    "- **What we did**: {measures}": "- **Ce que nous avons fait** : {measures}",
    "- **What you can do**: {measures}": "- **Ce que vous pouvez faire** : {measures}",
    "- **Whom to contact**: {contact}": "- **Qui joindre** : {contact}",
    "- **Your rights**: you can complain to the Commission d'accès à l'information or your"
    " supervisory authority; see {policy}": (
        "- **Vos droits** : vous pouvez porter plainte auprès de la Commission d'accès à"
        " l'information ou de votre autorité de contrôle; voir {policy}"
    ),
    "biometric templates (face templates: measurements of a face, which the person cannot"
    " change as they would a password), stored encrypted (AES-256-GCM, each person's under"
    " their own key, those keys wrapped by epoch keys held in a key store apart from the"
    " ledger): they cannot be read without the key store, and can be with it": (
        "des gabarits biométriques (gabarits de visage : des mesures d'un visage, que la"
        " personne ne peut pas changer comme un mot de passe), conservés chiffrés (AES-256-GCM,"
        " ceux de chaque personne sous sa propre clé, ces clés enveloppées par des clés"
        " d'époque gardées dans un magasin de clés séparé du registre) : on ne peut pas les"
        " lire sans le magasin de clés, et on le peut avec lui"
    ),
    "your face template (a measurement of your face, which you cannot change as you would a"
    " password), stored encrypted: it cannot be read without keys we keep apart from it": (
        "votre gabarit de visage (une mesure de votre visage, que vous ne pouvez pas changer"
        " comme un mot de passe), conservé chiffré : on ne peut pas le lire sans des clés que"
        " nous gardons à part"
    ),
    "notified late ({hours} h after awareness)": (
        "avisée en retard ({hours} h après la prise de connaissance)"
    ),
    "Reasons for the delay: {reasons}": "Motifs du retard : {reasons}",
    "none recorded": "aucun consigné",
    "no: risk of serious injury, notify them promptly": (
        "non : risque de préjudice sérieux, à aviser avec diligence"
    ),
    "DEMO MODE: accountability settings may be placeholders; not for real people.": (
        "MODE DÉMONSTRATION : les paramètres de responsabilité peuvent être provisoires; ne pas"
        " utiliser avec de vraies personnes."
    ),
    "Matching refused: {reason}.": "Recherches refusées : {reason}.",
    "Enrolment and matching refused: {reason}.": "Inscription et recherches refusées : {reason}.",
    "suspended by the regulator's order {reference} ({kind}): enrolment and matching are"
    " refused": (
        "suspendu par l'ordonnance {reference} ({kind}) de l'autorité de contrôle : inscription"
        " et recherches refusées"
    ),
    "the biometric database has not been declared; matching is refused until it is, and"
    " outside demo mode enrolment too": (
        "la banque de caractéristiques biométriques n'a pas été déclarée ; les recherches sont"
        " refusées jusqu'à sa déclaration, et hors du mode démonstration les inscriptions aussi"
    ),
    "the register changed since the declaration of {declared_on} (purposes, models, operating"
    " point, hosting, retention, security, recipients, transfer safeguards, the controller or"
    " the signing keys): new matching is refused until a new declaration has run its period": (
        "le registre a changé depuis la déclaration du {declared_on} (finalités, modèles, point"
        " de fonctionnement, hébergement, conservation, sécurité, destinataires, garanties des"
        " transferts, responsable ou clés de signature) : toute nouvelle recherche est refusée"
        " jusqu'à ce qu'une nouvelle déclaration ait couru son délai"
    ),
    "the regulator's orders in the database are not those the audit log chained or the witness"
    " journal recorded ({references}: deleted, lifted or changed from outside the service, or"
    " never committed): enrolment and matching are refused until each order they hold in force"
    " is applied again under its reference": (
        "les ordonnances de l'autorité de contrôle dans la base de données ne sont pas celles que"
        " le journal d'audit a enchaînées ou que le journal du dossier témoin a consignées"
        " ({references} : supprimées, levées ou modifiées hors du service, ou jamais validées) :"
        " inscription et recherches refusées jusqu'à ce que chaque ordonnance qu'ils tiennent en"
        " vigueur soit appliquée de nouveau sous sa référence"
    ),
    "the declaration of {declared_on} does not carry this service's seal (its material hash or"
    " dates were written into the database from outside): it does not count, and matching"
    " (outside demo mode, enrolment too) is refused until the register is declared again": (
        "la déclaration du {declared_on} ne porte pas le sceau de ce service (son empreinte ou"
        " ses dates ont été écrites dans la base de données de l'extérieur) : elle ne compte"
        " pas, et les recherches (hors du mode démonstration, les inscriptions aussi) sont"
        " refusées jusqu'à une nouvelle déclaration du registre"
    ),
    "the privacy impact assessment {reference} does not cover the register as it stands"
    " (purposes, models, operating point, hosting, retention, security, recipients or transfer"
    " safeguards): enrolment and matching are refused until an assessment of it is in force": (
        "l'évaluation des facteurs relatifs à la vie privée {reference} ne couvre pas le registre"
        " tel qu'il est (finalités, modèles, point de fonctionnement, hébergement, conservation,"
        " sécurité, destinataires ou garanties des transferts) : toute inscription et toute"
        " recherche sont refusées jusqu'à ce qu'une évaluation le couvre"
    ),
    "model {model_id} has no calibrated threshold at FMR {fmr}; run benchmarks/calibrate.py": (
        "le modèle {model_id} n'a pas de seuil étalonné au taux de fausses correspondances {fmr}"
        " ; lancez benchmarks/calibrate.py"
    ),
    "declared on {declared_on}: the database may not be put into service before {start}"
    " ({days} days)": (
        "déclarée le {declared_on} : la banque ne peut être mise en service avant le {start}"
        " ({days} jours)"
    ),
    "OPTINFACE_KEY_EPOCH_HOURS was raised while erasure receipts promised the destruction of"
    " key epoch {epoch} at {at}: that epoch still ends then; the setting ({hours} hours) counts"
    " from the next one.": (
        "OPTINFACE_KEY_EPOCH_HOURS a été relevé alors que des reçus d'effacement promettaient la"
        " destruction de l'époque de clés {epoch} à {at} : cette époque finit toujours à cette"
        " heure ; le réglage ({hours} heures) vaut à partir de la suivante."
    ),
    "The declaration in force ({reference}, of {declared_on}) hashed the register's material"
    " as it was before the deployment was part of it: it binds neither this deployment's"
    " signing keys nor its controller, and another deployment with the same purposes has the"
    " same hash. A new declaration would bind them (material sha256 {sha256}), and matching"
    " would wait for its period.": (
        "La déclaration en vigueur ({reference}, du {declared_on}) a haché les éléments du"
        " registre tels qu'ils étaient avant que le déploiement en fasse partie : elle ne lie ni"
        " les clés de signature de ce déploiement ni son responsable, et un autre déploiement aux"
        " mêmes finalités a la même empreinte. Une nouvelle déclaration les lierait (empreinte"
        " sha256 {sha256}), et les recherches attendraient la fin de son délai."
    ),
    "{n} templates were made by another model: re-enrolment needed.": (
        "{n} gabarits ont été créés par un autre modèle : une nouvelle inscription est requise."
    ),
    "{n} template rows do not carry this service's seal (written in the database from outside"
    " the service): no search finds them, and they are not counted.": (
        "{n} lignes de gabarits ne portent pas le sceau de ce service (écrites dans la base hors"
        " du service) : aucune recherche ne les trouve, et elles ne sont pas comptées."
    ),
    "{n} human reviews are not, in the database, as the audit log chained their decisions"
    " (written from outside the service): the confirmed identifications are counted from the"
    " log.": (
        "{n} vérifications humaines ne sont pas, dans la base, telles que le journal d'audit a"
        " chaîné leurs décisions (écrites hors du service) : les identifications confirmées sont"
        " comptées d'après le journal."
    ),
    "Persons of {jurisdiction} are held although the deployment no longer accepts them (an EU"
    " representative is owed): they get no new consent, link or photo until it is named; their"
    " rights still work.": (
        "Des personnes de {jurisdiction} sont détenues alors que le déploiement ne les accepte"
        " plus (un représentant dans l'UE est dû) : aucun nouveau consentement, lien ni photo"
        " avant qu'il soit nommé ; leurs droits s'exercent toujours."
    ),
    "Administrator's passkey registered": "Clé d'accès d'administrateur enregistrée",
    "Administrator stepped up with their passkey": (
        "Authentification renforcée d'un administrateur par sa clé d'accès"
    ),
    "Administrator's passkey link issued by the operator": (
        "Lien de clé d'accès d'administrateur remis par l'exploitant"
    ),
    "Break-glass admin key issued without a key": (
        "Clé d'administration d'urgence remise sans clé"
    ),
    "Break-glass openings (last {days} days)": "Accès d'urgence ouverts ({days} derniers jours)",
    (
        "Admin keys issued without a key by whoever holds the server's data directory, for an"
        " emergency: each one is in the audit chain with its reason, witnessed at once, and"
        " expires within hours."
    ): (
        "Clés d'administration remises sans clé, par qui détient le dossier de données du"
        " serveur, pour une urgence : chacune figure dans la chaîne d'audit avec son motif,"
        " témoignée aussitôt, et expire en quelques heures."
    ),
    "Opened": "Ouvert",
    "Reason": "Motif",
    "Expires": "Expire",
    "Revoked": "Révoquée",
    "Acts under the key": "Actes sous cette clé",
    "No break-glass opening.": "Aucun accès d'urgence ouvert.",
    "After its expiry": "Après son expiration",
    "Keys it created": "Clés qu'elle a créées",
    "chained again from the journal after a restore": (
        "chaîné de nouveau depuis le journal après une restauration"
    ),
    "Event {seq}: an opening whose details cannot be read; see the chain's status above.": (
        "Événement {seq} : une ouverture dont les détails sont illisibles ; voir l'état de la"
        " chaîne plus haut."
    ),
    # /privacy: the accuracy operating point, as declared
    "How a search can be wrong, and who checks it": (
        "Comment une recherche peut se tromper, et qui la vérifie"
    ),
    (
        "A search compares a photo with the templates of the people who consented to its"
        " purpose, with the model {model}. Only a score of at least {threshold} makes someone a"
        " candidate. At that threshold, about 1 comparison in {one_in} between two different"
        " people scores that high by mistake (a false-match rate of {fmr}), and {fnmr} of the"
        " comparisons of one person with themselves are missed (the false non-match rate), as"
        " measured on {date} on the data set below."
    ): (
        "Une recherche compare une photo aux gabarits des personnes qui ont consenti à sa"
        " finalité, avec le modèle {model}. Seul un score d'au moins {threshold} fait de"
        " quelqu'un un candidat. À ce seuil, environ 1 comparaison sur {one_in} entre deux"
        " personnes différentes atteint ce score par erreur (un taux de fausses"
        " correspondances de {fmr}), et {fnmr} des comparaisons d'une personne avec elle-même"
        " sont manquées (le taux de fausses non-correspondances), selon la mesure du {date} sur"
        " le jeu de données ci-dessous."
    ),
    (
        "No threshold is calibrated for the model {model} at a false-match rate of {fmr}:"
        " every search is refused."
    ): (
        "Aucun seuil n'est étalonné pour le modèle {model} à un taux de fausses correspondances"
        " de {fmr} : toute recherche est refusée."
    ),
    (
        "A search only ever names candidates, never who you are. A candidate counts only once"
        " {identify} different verifiers confirm it ({verify} when a photo is checked against"
        " one named person), and never the person who ran the search."
    ): (
        "Une recherche ne nomme jamais que des candidats, jamais qui vous êtes. Un candidat ne"
        " compte qu'une fois confirmé par {identify} contrôleurs différents ({verify} quand"
        " une photo est comparée à une seule personne nommée), et jamais par la personne qui a"
        " lancé la recherche."
    ),
    (
        "These figures are part of what was declared to the regulator and assessed for privacy:"
        " if they change, every search stops until they are declared and assessed again."
    ): (
        "Ces chiffres font partie de ce qui a été déclaré à l'autorité de contrôle et évalué"
        " pour la vie privée : s'ils changent, toute recherche s'arrête jusqu'à ce qu'ils soient"
        " déclarés et évalués de nouveau."
    ),
    # The register of the biometric database, its record of processing and the PIA skeleton,
    # worded by the consent core (consent.register, consent.ropa, consent.operating_point,
    # consent.transfers) for the declaration to the Commission d'accès à l'information.
    "Generated {when}": "Généré le {when}",
    "- **{label}**: {text}": "- **{label}** : {text}",
    "Policy": "Politique de gouvernance",
    "Non-biometric alternative": "Solution non biométrique",
    "Hosting location": "Lieu d'hébergement",
    "DEMO MODE": "MODE DÉMONSTRATION",
    "placeholder accountability, not for real people": (
        "responsabilité provisoire, à ne pas utiliser avec de vraies personnes"
    ),
    "Jurisdiction": "Régime applicable",
    "Biometric characteristic": "Caractéristique biométrique",
    "Active model": "Modèle en service",
    "- **Model {id}** ({role}): sha256 {sha256}, {licence}": (
        "- **Modèle {id}** ({role}) : sha256 {sha256}, licence « {licence} »"
    ),
    "detector": "détection des visages",
    "recognizer": "reconnaissance faciale",
    "Identifications confirmed by verifiers": (
        "Identifications confirmées par les contrôleurs des correspondances"
    ),
    "- **Subjects**: {subjects}; **templates**: {templates} ({stale} needing re-enrolment)": (
        "- **Volontaires** : {subjects}; **gabarits** : {templates} (dont {stale} à réinscrire)"
    ),
    "Database": "Base de données",
    "PIA": "EFVP",
    "{reference} (sha256 {sha256})": "{reference} (sha256 {sha256})",
    "{day} (reference {reference}, material sha256 {sha256})": (
        "{day} (référence {reference}, sha256 des éléments déclarés {sha256})"
    ),
    "not declared": "aucune : registre non déclaré",
    "{answer} (from {start}; material sha256 now {sha256})": (
        "{answer} (début : {start}; sha256 actuel des éléments déclarés {sha256})"
    ),
    "a declaration + 60 days": "une déclaration + 60 jours",
    "Biometric data sold, leased or traded": "Données biométriques vendues, louées ou échangées",
    "Accuracy (operating point, declared and assessed)": (
        "Exactitude (point de fonctionnement, déclaré et évalué)"
    ),
    "model {model}: {calibration}": "modèle {model} : {calibration}",
    "threshold {threshold} (a score at or above it makes a candidate), calibrated for a"
    " false-match rate of {fmr} on {dataset} ({date}); false non-match rate there {fnmr}": (
        "seuil {threshold} (un score égal ou supérieur fait un candidat), étalonné pour un taux"
        " de fausses correspondances de {fmr} sur « {dataset} » (en anglais, {date}); taux de"
        " fausses non-correspondances à ce seuil : {fnmr}"
    ),
    "no threshold calibrated for a false-match rate of {fmr}: matching is refused": (
        "aucun seuil étalonné pour un taux de fausses correspondances de {fmr} : les recherches"
        " sont refusées"
    ),
    "a search answers candidates for review or none, never an identification: {outcomes}": (
        "une recherche répond par des candidats à examiner ou par aucun, jamais par une"
        " identification : {outcomes}"
    ),
    "candidates_for_review": "candidats à examiner",
    "no_candidate": "aucun candidat",
    "a candidate counts only once confirmed by {identify} different verifiers for a 1:N"
    " identify, {verify} for a 1:1 verify; never by the key that ran the search": (
        "un candidat ne compte qu'une fois confirmé par {identify} contrôleurs des"
        " correspondances différents pour une identification 1:N, {verify} pour une"
        " vérification 1:1; jamais par la clé qui a lancé la recherche"
    ),
    "- **{name}** ({basis}): {operations}; retention {days} days": (
        "- **{name}** ({basis}) : {operations}; conservation {days} jours"
    ),
    "enrol": "inscription",
    "identify": "identification",
    "verify": "vérification",
    "Disclosures": "Communications",
    "to {country} ({region}), outside {area}; safeguards: {safeguards}": (
        "vers le pays {country} ({region}), hors {area}; garanties : {safeguards}"
    ),
    "none stated": "aucune indiquée",
    "Receipts and checkpoints verify with `optinface receipt verify FILE --public-key KEY` (also"
    " published at `/.well-known/optinface-keys.json`).": (
        "Les reçus et les points de contrôle se vérifient avec `optinface receipt verify FILE"
        " --public-key KEY` (clés aussi publiées à `/.well-known/optinface-keys.json`)."
    ),
    "- **{key_id}** ({algorithm}): `{public_key}`; signs {signs}": (
        "- **{key_id}** ({algorithm}) : `{public_key}`; signe {signs}"
    ),
    "- **{key_id}** ({algorithm}): `{public_key}`; retired {retired_at}: checks only the"
    " receipts that state they were signed no later": (
        "- **{key_id}** ({algorithm}) : `{public_key}`; retirée le {retired_at} : ne vérifie"
        " que les reçus qui se disent signés au plus tard à cette date"
    ),
    "This register's JSON is signed by the key {key_id}: `optinface register verify FILE"
    " --public-key KEY` checks it and prints its material sha256.": (
        "Le JSON de ce registre est signé par la clé {key_id} : `optinface register verify FILE"
        " --public-key KEY` le vérifie et affiche le SHA-256 de ses éléments déclarés."
    ),
    "consent receipts": "les reçus de consentement",
    "withdrawal receipts": "les reçus de retrait",
    "erasure receipts": "les reçus d'effacement",
    "receipts of the templates destroyed when a consent ends": (
        "les reçus des gabarits détruits à la fin d'un consentement"
    ),
    "the register and its record of processing": "le registre et son registre des activités de"
    " traitement",
    "audit checkpoints (C2SP signed notes)": (
        "les points de contrôle du journal d'audit (notes signées C2SP)"
    ),
    "Categories of persons": "Catégories de personnes",
    "adults who gave express consent": "adultes ayant donné un consentement exprès",
    "minors from {quebec} (Québec), {gdpr} (GDPR, no member state named) or the age of digital"
    " consent their EU member state or the UK sets (13 to 16) with their own consent": (
        "mineurs à partir de {quebec} ans (Québec), de {gdpr} ans (RGPD, sans État membre"
        " précisé) ou de l'âge du consentement numérique que fixe leur État membre de l'UE ou le"
        " Royaume-Uni (13 à 16 ans), avec leur propre consentement"
    ),
    "younger minors with the consent of the holder of parental authority": (
        "mineurs plus jeunes, avec le consentement du titulaire de l'autorité parentale"
    ),
    "Illinois: adults with a written release; minors (under 18) with the written release of"
    " their legally authorized representative": (
        "Illinois : adultes ayant donné une autorisation écrite; mineurs (moins de 18 ans) avec"
        " l'autorisation écrite de leur représentant légalement autorisé"
    ),
    "persons in a probe, each of whom signed a consent to that one search (their photo and its"
    " template are never stored)": (
        "personnes figurant sur une photo de recherche, chacune ayant signé un consentement à"
        " cette seule recherche (leur photo et son gabarit ne sont jamais conservés)"
    ),
    "Categories of data": "Catégories de données",
    "biometric data, a special category (GDPR art. 9; BIPA biometric identifier; P-39.1"
    " sensitive information): face templates, 512-number vectors encrypted under each"
    " subject's own key (tables: {tables})": (
        "données biométriques, une catégorie particulière (RGPD, art. 9; identifiant"
        " biométrique au sens du BIPA; renseignement sensible au sens de la P-39.1) : gabarits"
        " de visage, vecteurs de 512 nombres chiffrés sous la clé propre à chaque personne"
        " (tables : {tables})"
    ),
    "the keys that open the templates: each subject's, wrapped by an epoch key; destroyed at"
    " erasure (tables: {tables})": (
        "les clés qui ouvrent les gabarits : celle de chaque personne, enveloppée par une clé"
        " d'époque; détruites à l'effacement (tables : {tables})"
    ),
    "pseudonymous personal data: the subject's record, consents and receipts, passkeys' public"
    " keys, requests, reviews and the access log; no photo, and no name but what a person"
    " writes in a request (tables: {tables})": (
        "renseignements personnels pseudonymisés : le dossier de la personne, ses consentements"
        " et ses reçus, les clés publiques de ses clés d'accès, les demandes, les examens et le"
        " journal des accès; aucune photo, et aucun nom sinon ce qu'une personne écrit dans une"
        " demande (tables : {tables})"
    ),
    "proof kept after an erasure, naming no one: keyed hashes and the signed receipt, five"
    " years (tables: {tables})": (
        "preuves conservées après un effacement, qui ne nomment personne : hachages à clé et"
        " reçu signé, cinq ans (tables : {tables})"
    ),
    "Security measures": "Mesures de sécurité",
    "face: 512-dimensional ArcFace templates, protected by a secret rotation and encrypted; no"
    " images kept": (
        "visage : gabarits ArcFace de 512 dimensions, protégés par une rotation secrète et"
        " chiffrés; aucune image conservée"
    ),
    "AES-256-GCM template encryption under per-subject keys wrapped by a master key": (
        "chiffrement AES-256-GCM des gabarits sous une clé propre à chaque personne, enveloppée"
        " par une clé maîtresse"
    ),
    "template protection by a secret orthogonal rotation (fingerprint in the register)": (
        "protection des gabarits par une rotation orthogonale secrète (empreinte dans le"
        " registre)"
    ),
    "hash-chained audit log with Ed25519-signed checkpoints": (
        "journal d'audit chaîné par hachage, avec des points de contrôle signés Ed25519"
    ),
    "API keys and subject tokens stored as keyed hashes; role-based access": (
        "clés d'API et jetons des personnes conservés sous forme de hachages à clé; accès selon"
        " les rôles"
    ),
    "SQLite secure_delete and WAL truncation on erasure; index entries scrubbed": (
        "secure_delete de SQLite et troncature du journal WAL à l'effacement; entrées de"
        " l'index écrasées"
    ),
    "PostgreSQL: an erased row's old versions remain in the table and index files until"
    " overwritten (vacuum frees the space without zeroing it), in the WAL, on replicas and in"
    " backups; their pseudonymous columns stay readable there, while the template is held only"
    " encrypted under a subject key wrapped under an epoch key that the next key epoch"
    " rotation destroys, after which it is undecryptable; index entries scrubbed on every"
    " worker's replica": (
        "PostgreSQL : les anciennes versions d'une ligne effacée demeurent dans les fichiers de"
        " la table et des index jusqu'à leur réécriture (vacuum libère l'espace sans le mettre"
        " à zéro), dans le journal WAL, sur les répliques et dans les sauvegardes; leurs"
        " colonnes pseudonymes y restent lisibles, tandis que le gabarit n'y est que chiffré"
        " sous une clé de personne enveloppée par une clé d'époque que la prochaine rotation"
        " des clés d'époque détruit, après quoi il est indéchiffrable; entrées de l'index"
        " écrasées sur la réplique de chaque processus"
    ),
    "a second factor for admins: admin-only acts over the API need a short step-up signed with"
    " the admin key's own passkey (WebAuthn)": (
        "un second facteur pour les administrateurs : les actes réservés aux administrateurs"
        " par l'API exigent une authentification renforcée de courte durée, signée par la clé"
        " d'accès propre à la clé d'administrateur (WebAuthn)"
    ),
    "- rotation fingerprint {fingerprint}": "- empreinte de la rotation {fingerprint}",
    "Settings that bound a promise": "Paramètres qui bornent un engagement",
    "Setting": "Paramètre",
    "Value in force": "Valeur en vigueur",
    "What it bounds": "Ce qu'il borne",
    "- `{setting}` = {value}: {bounds}": "- `{setting}` = {value} : {bounds}",
    "hours a copy made before an erasure (a backup, the database's journal) stays decryptable"
    " at most: the key epoch's length": (
        "heures pendant lesquelles une copie faite avant un effacement (une sauvegarde, le"
        " journal de la base de données) reste déchiffrable, au plus : la durée d'une époque de"
        " clés"
    ),
    "seconds the checkpoints kept outside the database lag the log at most while events"
    " happen (600 at most)": (
        "secondes de retard, au plus, des points de contrôle gardés hors de la base de données"
        " sur le journal tant que des événements s'y ajoutent (600 au plus)"
    ),
    "events the checkpoints kept outside the database lag the log at most (1000 at most)": (
        "événements de retard, au plus, des points de contrôle gardés hors de la base de"
        " données sur le journal (1000 au plus)"
    ),
    "1:N searches one API key may attempt per UTC day": (
        "recherches 1:N qu'une clé d'API peut tenter par jour UTC"
    ),
    "- **{reference}** ({kind}) recorded {when}, {n} templates destroyed": (
        "- **{reference}** ({kind}) enregistrée le {when}, {n} gabarits détruits"
    ),
    ", lifted {when}": ", levée le {when}",
    ", in force": ", en vigueur",
    "Warnings": "Avertissements",
    "Record of processing activities (GDPR art. 30(1))": (
        "Registre des activités de traitement (RGPD, art. 30(1))"
    ),
    "Generated {when} from the register of the biometric database.": (
        "Généré le {when} à partir du registre de la banque de caractéristiques biométriques."
    ),
    "Register material sha256": "SHA-256 des éléments déclarés du registre",
    "Register declaration": "Déclaration du registre",
    "declared {day} (reference {reference}, material sha256 {sha256})": (
        "déclaré le {day} (référence {reference}, sha256 des éléments déclarés {sha256})"
    ),
    "Warning": "Avertissement",
    "Art. {point}: {title}": "Art. {point} : {title}",
    "Controller, joint controller, representative and data protection officer": (
        "Responsable du traitement, responsable conjoint, représentant et délégué à la"
        " protection des données"
    ),
    "controller: {name} ({contact})": "responsable du traitement : {name} ({contact})",
    "joint controller (art. 26): {name}": "responsable conjoint du traitement (art. 26) : {name}",
    "representative in the EU (art. 27): {name}": "représentant dans l'UE (art. 27) : {name}",
    "data protection officer (art. 37): {contact}": (
        "délégué à la protection des données (art. 37) : {contact}"
    ),
    "person in charge of the protection of personal information (P-39.1 s. 3.1): {name},"
    " {title} ({contact})": (
        "personne responsable de la protection des renseignements personnels (P-39.1, art. 3.1)"
        " : {name}, {title} ({contact})"
    ),
    "Purposes of the processing": "Finalités du traitement",
    "{name} (legal basis: {basis}): {description}; operations: {operations}": (
        "{name} (fondement juridique : {basis}) : {description}; opérations : {operations}"
    ),
    "Categories of data subjects": "Catégories de personnes concernées",
    "Categories of personal data": "Catégories de renseignements personnels",
    "Categories of recipients": "Catégories de destinataires",
    "{name}: {purpose} (legal basis: {basis})": (
        "{name} : {purpose} (fondement juridique : {basis})"
    ),
    "{recipient}{place}: disclosed to {times} time(s) on the ground {basis}": (
        "{recipient}{place} : communication {times} fois, pour le motif : {basis}"
    ),
    "consent": "le consentement de la personne",
    "financial_transaction": "une opération financière que la personne a demandée ou autorisée",
    "law": "une exigence de la loi",
    "warrant_subpoena": "un mandat ou une assignation valide",
    "disclosures: {rule}": "communications : {rule}",
    "Transfers to third countries and their safeguards": (
        "Transferts vers des pays tiers et leurs garanties"
    ),
    "{jurisdiction}: {transfer}": "{jurisdiction} : {transfer}",
    "disclosed to {recipient} in {country}, outside {area}: {times} time(s), under"
    " {assessment}": (
        "communiqué à {recipient} dans le pays {country}, hors {area} : {times} fois, en vertu"
        " de {assessment}"
    ),
    "Time limits for erasure": "Délais prévus pour l'effacement",
    "templates for the purpose {name}: at most {days} days after consent": (
        "gabarits pour la finalité {name} : au plus {days} jours après le consentement"
    ),
    "Technical and organisational security measures": (
        "Mesures de sécurité techniques et organisationnelles"
    ),
    "rotation fingerprint {fingerprint}": "empreinte de la rotation {fingerprint}",
    "accuracy operating point: {statement}": (
        "point de fonctionnement (exactitude) : {statement}"
    ),
    "# Privacy impact assessment (P-39.1 s. 3.3; GDPR art. 35): to complete and sign": (
        "# Évaluation des facteurs relatifs à la vie privée (P-39.1, art. 3.3; RGPD, art. 35) :"
        " à compléter et à signer"
    ),
    "Generated {when} from the live register.": (
        "Générée le {when} à partir du registre en vigueur."
    ),
    "Register material assessed": "Éléments déclarés du registre évalués (sha256)",
    "- Once signed, set `OPTINFACE_PIA_REFERENCE`, `OPTINFACE_PIA_SHA256` (this document's hash)"
    " and `OPTINFACE_PIA_MATERIAL_SHA256` (the line above). A change to the purposes, models,"
    " operating point (false-match rate, its threshold and calibration, verifiers), hosting,"
    " retention, security measures, recipients or transfer safeguards changes the material and"
    " refuses matching until it is assessed again.": (
        "- Une fois signée, indiquez `OPTINFACE_PIA_REFERENCE`, `OPTINFACE_PIA_SHA256`"
        " (l'empreinte de ce document) et `OPTINFACE_PIA_MATERIAL_SHA256` (la ligne ci-dessus)."
        " Un changement des finalités, des modèles, du point de fonctionnement (taux de fausses"
        " correspondances, son seuil et son étalonnage, contrôleurs), de l'hébergement, de la"
        " conservation, des mesures de sécurité, des destinataires ou des garanties des"
        " transferts change les éléments déclarés et fait refuser les recherches jusqu'à une"
        " nouvelle évaluation."
    ),
    "## 1. Necessity and proportionality (TO ASSESS)": (
        "## 1. Nécessité et proportionnalité (À ÉVALUER)"
    ),
    "Why a face, why these purposes, why 1:N where it is allowed, why these retention periods;"
    " the non-biometric alternative offered: {alternative}": (
        "Pourquoi un visage, pourquoi ces finalités, pourquoi une recherche 1:N là où elle est"
        " permise, pourquoi ces durées de conservation; la solution non biométrique offerte :"
        " {alternative}"
    ),
    "## 2. Risks to the persons (TO ASSESS)": "## 2. Risques pour les personnes (À ÉVALUER)",
    "Likelihood and severity for the subjects and for the people in probes: misidentification"
    " at the operating point assessed ({accuracy}), misuse by a searcher, a breach of the"
    " templates.": (
        "Probabilité et gravité, pour les volontaires et pour les personnes figurant sur une"
        " photo de recherche : erreur d'identification au point de fonctionnement évalué"
        " ({accuracy}), usage abusif par une personne qui lance des recherches, fuite des"
        " gabarits."
    ),
    "## 3. Measures (TO ASSESS beyond those in force, listed below)": (
        "## 3. Mesures (À ÉVALUER au-delà de celles en vigueur, énumérées ci-dessous)"
    ),
    "## 4. Opinion of the person in charge: {name}, {title} (TO SIGN)": (
        "## 4. Avis de la personne responsable : {name}, {title} (À SIGNER)"
    ),
    "## 5. The processing assessed, as the register states it": (
        "## 5. Le traitement évalué, tel que le registre l'énonce"
    ),
}
